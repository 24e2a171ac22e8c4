import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SOCKET_DIR_INSIDE } from './mounts.js';
import { PROXY_SOCKET_NAME } from './proxy-socket.js';
/** Where the agent's NODE_OPTIONS travel to the launcher, so the launcher does not load the preload itself. */
export const AGENT_NODE_OPTIONS = 'SIDEKEY_AGENT_NODE_OPTIONS';
const LAUNCHER = fileURLToPath(new URL('./launcher.js', import.meta.url));
/**
 * The command bwrap runs (Node with the launcher, which listens on 127.0.0.1:`port` inside and
 * starts `command`) and its environment: the agent's, with NODE_OPTIONS set aside for the agent.
 */
export function launchCommand(port, command, agentEnv) {
    const env = { ...agentEnv, [AGENT_NODE_OPTIONS]: agentEnv.NODE_OPTIONS };
    delete env.NODE_OPTIONS;
    return { argv: [process.execPath, LAUNCHER, String(port), join(SOCKET_DIR_INSIDE, PROXY_SOCKET_NAME), '--', ...command], env };
}
//# sourceMappingURL=launch-command.js.map