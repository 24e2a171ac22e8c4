/**
 * `sidekey run` cannot start the agent in a sandbox, or would start one that leaks (a symlink the
 * agent could retarget, a working directory inside a hidden path). The message names what is
 * missing or wrong and is printed as it is; the caller adds how to run without a sandbox.
 */
export class SandboxError extends Error {
    name = 'SandboxError';
}
//# sourceMappingURL=errors.js.map