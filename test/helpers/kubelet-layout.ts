import { chmod, chown, mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Container, PodSpec } from './helm.js'

// The files a container sees, rebuilt from a rendered pod the way the kubelet and the container
// runtime lay them out, so a test can start sidekey against them as the chart's user:
//
// - a Secret or ConfigMap volume is written by the kubelet's AtomicWriter: a timestamped directory
//   holding the files (owner root, the volume's defaultMode or the item's mode), a `..data`
//   symlink to it, and one symlink per file through `..data`; an update writes a new timestamped
//   directory and swaps `..data` with a rename (the swap policy hot reload must follow);
// - an emptyDir is a directory of mode 0777 owned by root, on tmpfs for `medium: Memory`;
// - a volumeMount bind-mounts the volume's directory at mountPath (read-only when asked); one with
//   subPath bind-mounts the one file, resolved through the symlinks, onto a file the runtime creates;
// - the container's root file system is read-only (`readOnlyRootFilesystem`).
//
// The pod's paths sit under a root directory on this machine (the only difference from a pod),
// and the mounts are made by a shell script meant to run in a private mount namespace.

/** File contents for the Secret and ConfigMap volumes, by volume name then key. */
export type VolumeData = Record<string, Record<string, string>>

interface KeyToPath {
  key: string
  path: string
  mode?: number
}

interface VolumeSource {
  name: string
  emptyDir?: { medium?: string }
  secret?: { secretName: string; defaultMode?: number; items?: KeyToPath[] }
  configMap?: { name: string; defaultMode?: number; items?: KeyToPath[] }
}

interface VolumeMount {
  name: string
  mountPath: string
  subPath?: string
  readOnly?: boolean
}

/** The layout on this machine: where the pod's paths are, and the script that mounts them. */
export interface KubeletLayout {
  /** The container's root: a pod path P is `${root}${P}`. */
  readonly root: string
  /** Shell commands (run as root in a private mount namespace) that make the mounts. */
  readonly mountScript: string
  /** Write new data into a Secret or ConfigMap volume, swapping `..data` as the kubelet does. */
  update(volume: string, files: Record<string, string>): Promise<void>
}

/** Shell-quote one word. */
export const sh = (word: string): string => `'${word.replace(/'/g, `'\\''`)}'`

/** Build the volumes of `pod` under `base` for `container`, filled with `data`. */
export async function kubeletLayout(base: string, pod: PodSpec, container: Container, data: VolumeData): Promise<KubeletLayout> {
  const root = join(base, 'rootfs')
  const volumesDir = join(base, 'volumes')
  const volumes = new Map((pod.volumes as VolumeSource[]).map((v) => [v.name, v]))
  const generation = new Map<string, number>()
  const script: string[] = ['set -eu']

  /** Write one AtomicWriter generation of an object volume and point `..data` at it. */
  const writeAtomic = async (name: string, files: Record<string, string>): Promise<void> => {
    const source = volumes.get(name)!
    const spec = (source.secret ?? source.configMap)!
    const dir = join(volumesDir, name)
    const n = (generation.get(name) ?? 0) + 1
    generation.set(name, n)
    const stamp = `..2026_12_02_07_00_00.00000000${n}`
    await mkdir(join(dir, stamp), { recursive: true, mode: 0o755 })
    const items: KeyToPath[] = spec.items ?? Object.keys(files).map((key) => ({ key, path: key }))
    for (const item of items) {
      const text = files[item.key]
      if (text === undefined) throw new Error(`no data for key ${item.key} of volume ${name}`)
      const file = join(dir, stamp, item.path)
      await writeFile(file, text)
      await chown(file, 0, 0)
      await chmod(file, item.mode ?? spec.defaultMode ?? 0o644)
      if (n === 1) await symlink(join('..data', item.path), join(dir, item.path))
    }
    await symlink(stamp, join(dir, '..data_tmp'))
    await rename(join(dir, '..data_tmp'), join(dir, '..data'))
    if (n > 1) await rm(join(dir, `..2026_12_02_07_00_00.00000000${n - 1}`), { recursive: true })
  }

  for (const mount of container.volumeMounts as VolumeMount[]) {
    const source = volumes.get(mount.name)
    if (source === undefined) throw new Error(`volumeMount ${mount.name} has no volume`)
    const dir = join(volumesDir, source.name)
    const target = `${root}${mount.mountPath}`
    if (!generation.has(source.name) && (source.secret || source.configMap)) await writeAtomic(source.name, data[source.name] ?? {})
    if (source.emptyDir && !script.some((l) => l.includes(` ${sh(dir)}`))) {
      await mkdir(dir, { recursive: true })
      await chmod(dir, 0o777)
      if (source.emptyDir.medium === 'Memory') script.push(`mount -t tmpfs -o mode=0777 tmpfs ${sh(dir)}`)
    }
    if (!source.emptyDir && !source.secret && !source.configMap) throw new Error(`volume ${source.name}: only emptyDir, secret and configMap are laid out`)
    if (mount.subPath === undefined) {
      await mkdir(target, { recursive: true })
      script.push(`mount --bind ${sh(dir)} ${sh(target)}`)
    } else {
      // The runtime creates the file to mount onto (inside whatever is mounted above it by then).
      script.push(`touch ${sh(target)}`, `mount --bind "$(readlink -f ${sh(join(dir, mount.subPath))})" ${sh(target)}`)
    }
    if (mount.readOnly === true) script.push(`mount -o remount,bind,ro ${sh(target)}`)
  }
  // The root file system read-only, first: the volumes are mounted onto it, in the container's order.
  script.splice(1, 0, `mount --bind ${sh(root)} ${sh(root)}`, `mount -o remount,bind,ro ${sh(root)}`)
  return { root, mountScript: script.join('\n'), update: writeAtomic }
}
