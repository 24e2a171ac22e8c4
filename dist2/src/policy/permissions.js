import { constants } from 'node:fs';
import { access, realpath, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
/**
 * Policy files, and the directories above them up to `/`, that a user other than sidekey's (or
 * root) could change: writable by group or others, or owned by another user. Whoever can write
 * the policy decides what the agent may call, so such a path is as good as a rule change; the
 * warning names the path and the fix. Directories are included because write access to a
 * directory lets one rename another file over any entry in it. Like OpenSSH's StrictModes, a
 * sticky directory (`/tmp`) is exempt: others cannot replace entries they do not own. A read-only
 * mount (a Kubernetes ConfigMap volume) is exempt too: nobody can write there, whatever the mode.
 *
 * Empty where the platform has no POSIX owners (Windows).
 */
export async function permissionWarnings(policyPath, files) {
    const uid = process.getuid?.();
    if (uid === undefined)
        return [];
    const paths = new Set();
    const addWithParents = (path) => {
        for (let p = path; !paths.has(p); p = dirname(p))
            paths.add(p);
    };
    for (const path of [resolve(policyPath), ...files.map((f) => resolve(f))]) {
        addWithParents(path);
        // A symbolic link (ConfigMap files are) is changed where it points, so that path counts too.
        addWithParents(await realpath(path).catch(() => path));
    }
    const warnings = [];
    for (const path of [...paths].sort()) {
        const warning = await checkOne(path, uid);
        if (warning !== null)
            warnings.push(warning);
    }
    return warnings;
}
async function checkOne(path, uid) {
    let info;
    try {
        info = await stat(path);
    }
    catch {
        return null; // gone, or not ours to see: the load reports what it cannot read
    }
    const writableByOthers = (info.mode & 0o022) !== 0 && !(info.isDirectory() && (info.mode & 0o1000) !== 0);
    const foreignOwner = info.uid !== uid && info.uid !== 0;
    if (!writableByOthers && !foreignOwner)
        return null;
    if (await readOnlyMount(path))
        return null;
    const mode = (info.mode & 0o7777).toString(8).padStart(4, '0');
    if (foreignOwner) {
        return { path, message: `owned by uid ${info.uid}, neither sidekey's user (uid ${uid}) nor root: that user can change the policy; chown it to sidekey's user or root` };
    }
    const who = (info.mode & 0o002) !== 0 ? 'every user' : 'its group';
    return { path, message: `writable by ${who} (mode ${mode}): they can change the policy; chmod go-w ${path}` };
}
async function readOnlyMount(path) {
    try {
        await access(path, constants.W_OK);
        return false;
    }
    catch (e) {
        return e.code === 'EROFS';
    }
}
//# sourceMappingURL=permissions.js.map