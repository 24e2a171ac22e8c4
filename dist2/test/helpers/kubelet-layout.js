import { chmod, chown, mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
/** Shell-quote one word. */
export const sh = (word) => `'${word.replace(/'/g, `'\\''`)}'`;
/** Build the volumes of `pod` under `base` for `container`, filled with `data`. */
export async function kubeletLayout(base, pod, container, data) {
    const root = join(base, 'rootfs');
    const volumesDir = join(base, 'volumes');
    const volumes = new Map(pod.volumes.map((v) => [v.name, v]));
    const generation = new Map();
    const script = ['set -eu'];
    /** Write one AtomicWriter generation of an object volume and point `..data` at it. */
    const writeAtomic = async (name, files) => {
        const source = volumes.get(name);
        const spec = (source.secret ?? source.configMap);
        const dir = join(volumesDir, name);
        const n = (generation.get(name) ?? 0) + 1;
        generation.set(name, n);
        const stamp = `..2026_12_02_07_00_00.00000000${n}`;
        await mkdir(join(dir, stamp), { recursive: true, mode: 0o755 });
        const items = spec.items ?? Object.keys(files).map((key) => ({ key, path: key }));
        for (const item of items) {
            const text = files[item.key];
            if (text === undefined)
                throw new Error(`no data for key ${item.key} of volume ${name}`);
            const file = join(dir, stamp, item.path);
            await writeFile(file, text);
            await chown(file, 0, 0);
            await chmod(file, item.mode ?? spec.defaultMode ?? 0o644);
            if (n === 1)
                await symlink(join('..data', item.path), join(dir, item.path));
        }
        await symlink(stamp, join(dir, '..data_tmp'));
        await rename(join(dir, '..data_tmp'), join(dir, '..data'));
        if (n > 1)
            await rm(join(dir, `..2026_12_02_07_00_00.00000000${n - 1}`), { recursive: true });
    };
    for (const mount of container.volumeMounts) {
        const source = volumes.get(mount.name);
        if (source === undefined)
            throw new Error(`volumeMount ${mount.name} has no volume`);
        const dir = join(volumesDir, source.name);
        const target = `${root}${mount.mountPath}`;
        if (!generation.has(source.name) && (source.secret || source.configMap))
            await writeAtomic(source.name, data[source.name] ?? {});
        if (source.emptyDir && !script.some((l) => l.includes(` ${sh(dir)}`))) {
            await mkdir(dir, { recursive: true });
            await chmod(dir, 0o777);
            if (source.emptyDir.medium === 'Memory')
                script.push(`mount -t tmpfs -o mode=0777 tmpfs ${sh(dir)}`);
        }
        if (!source.emptyDir && !source.secret && !source.configMap)
            throw new Error(`volume ${source.name}: only emptyDir, secret and configMap are laid out`);
        if (mount.subPath === undefined) {
            await mkdir(target, { recursive: true });
            script.push(`mount --bind ${sh(dir)} ${sh(target)}`);
        }
        else {
            // The runtime creates the file to mount onto (inside whatever is mounted above it by then).
            script.push(`touch ${sh(target)}`, `mount --bind "$(readlink -f ${sh(join(dir, mount.subPath))})" ${sh(target)}`);
        }
        if (mount.readOnly === true)
            script.push(`mount -o remount,bind,ro ${sh(target)}`);
    }
    // The root file system read-only, first: the volumes are mounted onto it, in the container's order.
    script.splice(1, 0, `mount --bind ${sh(root)} ${sh(root)}`, `mount -o remount,bind,ro ${sh(root)}`);
    return { root, mountScript: script.join('\n'), update: writeAtomic };
}
//# sourceMappingURL=kubelet-layout.js.map