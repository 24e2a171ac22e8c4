import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
/**
 * The programs tests drive as real peers, and the Debian package that brings each. `npm test`
 * installs them first (scripts/test-prerequisites.sh); a test run some other way that lacks one
 * fails at once naming the package, instead of skipping or failing later with a bare ENOENT.
 */
const PACKAGES = {
    curl: 'curl',
    openssl: 'openssl',
    python3: 'python3',
    chromium: 'chromium',
    'redis-server': 'redis-server',
    'redis-cli': 'redis-tools',
    ip: 'iproute2',
    iptables: 'iptables',
    bwrap: 'bubblewrap',
    go: 'golang-go',
    wget: 'wget',
    git: 'git',
    npm: 'npm',
    java: 'default-jdk-headless',
    keytool: 'default-jdk-headless',
};
/** Absolute path of `tool` on PATH (or the configured Chromium), or null. */
export function findTool(tool) {
    if (tool === 'chromium') {
        const path = process.env.SIDEKEY_CHROMIUM ?? '/usr/bin/chromium';
        return executable(path) ? path : null;
    }
    const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'];
    for (const dir of dirs) {
        if (dir !== '' && executable(join(dir, tool)))
            return join(dir, tool);
    }
    return null;
}
/** Throw, naming the Debian package to install, unless every tool is present. */
export function requireTools(...tools) {
    const missing = tools.filter((tool) => findTool(tool) === null);
    if (missing.length === 0)
        return;
    const packages = [...new Set(missing.map((tool) => PACKAGES[tool]))];
    throw new Error(`this test needs ${missing.join(', ')}: install the Debian package(s) ${packages.join(' ')} (\`npm test\` installs them; or apt-get install -y ${packages.join(' ')})`);
}
function executable(path) {
    try {
        accessSync(path, constants.X_OK);
        return true;
    }
    catch {
        return false;
    }
}
/** The Debian package of each Python module tests use as a client. */
const PYTHON_MODULES = { requests: 'python3-requests', httpx: 'python3-httpx', h2: 'python3-h2', pip: 'python3-pip' };
/**
 * A python3 that can import every one of `modules`: the one on PATH, else Debian's own (where
 * apt-get installs python3-requests and python3-httpx when PATH leads to another Python, such as
 * pyenv's). Throws naming the packages when neither can.
 */
export function pythonWith(...modules) {
    const candidates = [findTool('python3'), '/usr/bin/python3'].filter((p) => p !== null && executable(p));
    const found = candidates.find((python) => spawnSync(python, ['-c', modules.map((m) => `import ${m}`).join('; ')]).status === 0);
    if (found !== undefined)
        return found;
    const packages = modules.map((m) => PYTHON_MODULES[m]);
    throw new Error(`this test needs the Python modules ${modules.join(', ')}: install the Debian package(s) ${packages.join(' ')} (\`npm test\` installs them; or apt-get install -y ${packages.join(' ')})`);
}
//# sourceMappingURL=tools.js.map