import { randomBytes } from 'node:crypto';
import { chmod, open, rename } from 'node:fs/promises';
/**
 * Write a private file (a key, sealed grants) so that nobody but the owner can ever read it and a
 * reader sees the old content or the new, never half: a temporary file created exclusively (`wx`:
 * a file or symlink someone planted at that name makes the write fail instead of writing through
 * it) with mode 0600, chmod'ed again against a umask or ACL that widened it, then renamed over `path`.
 */
export async function writePrivate(path, data) {
    const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const handle = await open(tmp, 'wx', 0o600);
    try {
        await handle.writeFile(data);
    }
    finally {
        await handle.close();
    }
    await chmod(tmp, 0o600);
    await rename(tmp, path);
}
//# sourceMappingURL=private-file.js.map