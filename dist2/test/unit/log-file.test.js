import t from 'tap';
import { logFileFor } from '../../src/config.js';
// Where `sidekey start` logs: the flag, then SIDEKEY_LOG, then by whether a person is reading.
t.test('logFileFor: stdout (null) or a file', async (t) => {
    const config = { certsDir: '/home/me/sk/certs' };
    const table = [
        { rule: 'a pipe or a container: standard output', flag: undefined, env: {}, tty: false, file: null },
        { rule: 'a terminal: the certs directory\'s audit.log', flag: undefined, env: {}, tty: true, file: '/home/me/sk/certs/audit.log' },
        { rule: 'SIDEKEY_LOG=stdout keeps a terminal\'s log on it (docker run -t)', flag: undefined, env: { SIDEKEY_LOG: 'stdout' }, tty: true, file: null },
        { rule: '- means standard output too', flag: '-', env: {}, tty: true, file: null },
        { rule: 'a file named by the environment', flag: undefined, env: { SIDEKEY_LOG: '/var/log/sidekey.log' }, tty: false, file: '/var/log/sidekey.log' },
        { rule: 'the flag wins over the environment', flag: 'stdout', env: { SIDEKEY_LOG: '/var/log/sidekey.log' }, tty: true, file: null },
        { rule: 'an empty variable is unset', flag: undefined, env: { SIDEKEY_LOG: '' }, tty: false, file: null },
    ];
    for (const { rule, flag, env, tty, file } of table)
        t.equal(logFileFor(flag, env, tty, config), file, rule);
});
//# sourceMappingURL=log-file.test.js.map