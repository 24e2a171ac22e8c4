import { open, rename } from 'node:fs/promises'

/** Write `text` to `path` through a temporary file created with mode 0600, then renamed over it. */
export async function writePrivate(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`
  const handle = await open(tmp, 'w', 0o600)
  try {
    await handle.writeFile(text)
  } finally {
    await handle.close()
  }
  await rename(tmp, path)
}
