const CONFIRM = 'To remove its routes on purpose, write `routes: []` in it (or delete the file).';
/**
 * Why `next` may not replace `current` on a reload, even though it is valid policy: it lost routes
 * in a way a file cut short looks exactly like (docs/security.md). An editor or `cp` that writes
 * in place truncates the file first; read at that moment, it is empty, or valid YAML with fewer
 * routes. Loaded, the routes it held are gone: a deny rule in `00-deny.yaml` vanishes, and the
 * allow rule of the next file lets the denied path through. So a reload is refused when
 *
 * - a file that held policy is now blank (no YAML document at all);
 * - a file that held routes now holds none, unless it says `routes: []`;
 * - a policy with routes would be replaced by one with none, unless a file says `routes: []`.
 *
 * Deleting a file is a deliberate act and is accepted. Returns no problem when `next` may replace
 * `current`. Starting sidekey is not a replacement: any valid policy, empty or not, may start.
 */
export function replacementProblems(current, next, path) {
    const problems = [];
    const held = routesPerFile(current);
    const holds = routesPerFile(next);
    for (const file of next.files) {
        const before = held.get(file) ?? 0;
        const kind = next.emptyFiles.get(file);
        if (kind === 'blank' && current.files.includes(file) && current.emptyFiles.get(file) !== 'blank') {
            const what = before > 0 ? `held ${before} route(s)` : 'held policy';
            problems.push({ file, line: 0, path: '', message: `the file is empty now and ${what} before; a file being written or cut short looks the same, so the previous policy stays in force. ${CONFIRM}` });
        }
        else if (before > 0 && (holds.get(file) ?? 0) === 0 && kind !== 'declared') {
            problems.push({ file, line: 1, path: 'routes', message: `the file held ${before} route(s) and now holds none; a file being written or cut short looks the same, so the previous policy stays in force. ${CONFIRM}` });
        }
    }
    if (problems.length === 0 && current.routes.length > 0 && next.routes.length === 0 && ![...next.emptyFiles.values()].includes('declared')) {
        problems.push({ file: path, line: 0, path: '', message: `the new policy has no routes, so sidekey would refuse every request; the previous policy (${current.routes.length} route(s)) stays in force. To run with no routes on purpose, write \`routes: []\` in a policy file.` });
    }
    return problems;
}
function routesPerFile(policy) {
    const counts = new Map();
    for (const route of policy.routes)
        counts.set(route.file, (counts.get(route.file) ?? 0) + 1);
    return counts;
}
//# sourceMappingURL=reload-acceptance.js.map