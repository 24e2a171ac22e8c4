import { namingField, shown } from './decide.js';
/** The facts CEL sees for `call`, naming `subject`. */
export function celFacts(call, subject) {
    const args = call.params?.arguments;
    return {
        method: call.method,
        tool: subject?.kind === 'tool' ? subject.name : null,
        resource: subject?.kind === 'resource' ? subject.name : null,
        prompt: subject?.kind === 'prompt' ? subject.name : null,
        arguments: typeof args === 'object' && args !== null ? args : {},
    };
}
/**
 * The tool or prompt name, or resource URI, a call carries as sent (before any check), or null: the
 * field its method is decided on, never another (a `resources/read` with an extra `name` was
 * audited and put to the approver under that name, not its URI: found by a red-team run).
 */
export function nameIn(call) {
    const field = namingField(call.method);
    const name = field === null ? undefined : call.params?.[field];
    return typeof name === 'string' ? name : null;
}
/** How a call is named in refusals and approvals: `tools/call "delete_repo"` (the name as sent, quoted and cut). */
export function describeCall(call) {
    const name = nameIn(call);
    return name === null ? shown(call.method) : `${call.method} ${shown(name)}`;
}
//# sourceMappingURL=facts.js.map