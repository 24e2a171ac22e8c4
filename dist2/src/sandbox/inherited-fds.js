import { closeSync, readdirSync, readFileSync } from 'node:fs';
/** O_CLOEXEC as /proc/PID/fdinfo writes it (octal `flags`, Linux on every architecture Node runs on). */
const O_CLOEXEC = 0o2000000;
/**
 * Close the file descriptors above standard error that this process inherited open across exec
 * (its parent left them without close-on-exec: a shell's `3<file`, a test harness's pipe), and
 * return their numbers. Node opens its own with close-on-exec, but passes these on to every child
 * it spawns, and bwrap passes them on into the sandbox: an inherited descriptor of a directory
 * outside the working directory would let the agent open what the mounts hide. Node's IPC
 * channel (NODE_CHANNEL_FD), when there is one, is this process's own and stays.
 */
export function closeInheritedDescriptors(env = process.env) {
    const keep = env.NODE_CHANNEL_FD === undefined ? -1 : Number(env.NODE_CHANNEL_FD);
    let names;
    try {
        names = readdirSync('/proc/self/fdinfo');
    }
    catch {
        return [];
    }
    const closed = [];
    for (const name of names) {
        const fd = Number(name);
        if (!(fd > 2) || fd === keep)
            continue;
        let flags;
        try {
            flags = /^flags:\s*([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
        }
        catch {
            continue; // the directory listing's own descriptor, closed by now
        }
        if (flags === null || (parseInt(flags[1], 8) & O_CLOEXEC) !== 0)
            continue;
        try {
            closeSync(fd);
            closed.push(fd);
        }
        catch {
            // Not ours to close after all (gone meanwhile).
        }
    }
    return closed;
}
//# sourceMappingURL=inherited-fds.js.map