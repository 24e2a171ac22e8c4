import t from 'tap';
import { nameGlob, pathGlob } from '../../src/policy/glob.js';
import { PathMatcher } from '../../src/policy/match.js';
// Globs are matched without backtracking (policy/glob.ts). A red-team run froze sidekey for a
// minute with `DELETE /repos/o/r` + 30 dots + `/x` against the shipped GitHub policy's deny glob
// `/repos/*/*`: the regular expression it compiled to took time doubling with each dot. Here the
// same meaning is checked against that old construction (the oracle, on inputs small enough for
// it), and the inputs that made it blow up are matched: with backtracking these tests would not
// end (tap's timeout fails them); no time is asserted.
/** The regular expression a path glob compiled to before, `(?:\.[^/]*|%20)*` suffix included. */
function oracle(glob, broad) {
    const suffix = '(?:\\.[^/]*|%20)*';
    const g = broad && glob.length > 1 && glob.endsWith('/') ? glob.slice(0, -1) : glob;
    let out = '^';
    let ended = false;
    for (let i = 0; i < g.length; i++) {
        if (g.startsWith('/**', i) && i + 3 === g.length) {
            out += (broad ? suffix : '') + '(?:/.*)?';
            ended = true;
            break;
        }
        if (g.startsWith('/**/', i)) {
            out += '/(?:.*/)?';
            i += 3;
            continue;
        }
        const c = g[i];
        if (c === '*') {
            if (g[i + 1] === '*') {
                out += '.*';
                i++;
            }
            else
                out += '[^/]*';
        }
        else
            out += c.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
    }
    if (broad && !ended)
        out += suffix;
    return new RegExp(out + (broad ? '/?$' : '$'), broad ? 'i' : '');
}
/** A deterministic generator (mulberry32), so a failure names a case that can be run again. */
function random(seed) {
    let a = seed;
    return () => {
        a = (a + 0x6d2b79f5) | 0;
        let x = Math.imul(a ^ (a >>> 15), 1 | a);
        x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
        return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
    };
}
t.test('the same paths as the regular expressions before, exact and broad, on 40,000 random pairs', async (t) => {
    const next = random(20261203);
    const pick = (list) => list[Math.floor(next() * list.length)];
    const globParts = ['/', '/', 'a', 'B', '.', '%20', '*', '**', '/**', '/**/', '-', 'json'];
    const pathParts = ['/', '/', 'a', 'A', 'b', 'B', '.', '..', '%20', '%2', '0', 'json', '-', 'x'];
    let checked = 0;
    let mismatches = 0;
    for (let i = 0; i < 20_000; i++) {
        const glob = `/${Array.from({ length: 1 + Math.floor(next() * 5) }, () => pick(globParts)).join('')}`;
        const path = `/${Array.from({ length: Math.floor(next() * 8) }, () => pick(pathParts)).join('')}`;
        for (const broad of [false, true]) {
            const want = oracle(glob, broad).test(path);
            const got = pathGlob(glob, broad)(path);
            checked++;
            if (want !== got && mismatches++ < 10)
                t.fail(`${broad ? 'broad' : 'exact'} ${glob} against ${path}: ${got}, the regular expression said ${want}`);
        }
    }
    t.equal(mismatches, 0, `${checked} matches agree`);
});
t.test('the inputs that made backtracking blow up end, and decide as before', async (t) => {
    // The red team's request against the shipped policies/github.yaml deny glob.
    const repos = new PathMatcher(['/repos/*/*'], { broad: true });
    t.notOk(repos.matches(`/repos/o/r${'.'.repeat(40)}/x`), '40 dots then /x: not that deny (about 17 hours before)');
    t.ok(repos.matches(`/repos/o/r${'.'.repeat(40)}`), '40 dots at the end: denied (a format suffix)');
    t.ok(repos.matches(`/repos/o/r${'%20'.repeat(2000)}.json`), 'encoded spaces then a format suffix: denied');
    t.notOk(repos.matches(`/repos/o/r${'.%20'.repeat(3000)}x/y`), 'dots and spaces, then another segment: not that deny');
    // Several `**` in one glob were polynomial in the path: 6 s for an 8 KB one.
    const deep = new PathMatcher(['/a/**/b/**/c/**/d']);
    t.notOk(deep.matches(`/a/${'b/c/'.repeat(4000)}e`), 'an 16 KB path that ends wrong: no match');
    t.ok(deep.matches(`/a/${'x/'.repeat(4000)}b/c/d`), 'one that ends right: a match');
    const broadDeep = new PathMatcher(['/a/**/b/**/c/**/d'], { broad: true });
    t.ok(broadDeep.matches(`/A/${'x/'.repeat(4000)}B/c/D.JSON/`), 'broad: case, suffix and trailing slash');
    // A segment glob with several stars, against one long segment.
    t.notOk(new PathMatcher(['/v1/*-*-*-*/x'], { broad: true }).matches(`/v1/${'-'.repeat(16_000)}/y`), 'four stars in one 16 KB segment');
});
t.test('name globs (MCP tools, resources, prompts, methods)', async (t) => {
    t.ok(nameGlob('delete_*')('delete_repo'));
    t.notOk(nameGlob('delete_*')('Delete_repo'), 'letter case counts');
    t.ok(nameGlob('delete_*', true)('Delete_repo'), 'unless asked not to');
    t.ok(nameGlob('repo://acme/*')('repo://acme/a/b'), '* crosses /');
    t.ok(nameGlob('*')(''), '* matches nothing too');
    t.notOk(nameGlob('a.b')('axb'), 'everything but * is literal');
    t.notOk(nameGlob('*_admin_*_*')(`${'-admin-'.repeat(100_000)}_admin_x`), 'stars against a 700 KB name that fails at the end: it ends');
    t.notOk(new RegExp('^.*_admin_.*_.*$').test('-admin-_admin_x'), '(the oracle agrees on a short one)');
    t.ok(nameGlob('*_admin_*_*')(`x_admin_y_z`));
});
//# sourceMappingURL=glob.test.js.map