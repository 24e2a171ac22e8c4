import { SidekeyError } from '../errors.js';
/**
 * Fields a request may carry once (RFC 9110: a sender must not send them as a list) whose value
 * sidekey decides on. `Content-Type` says how the body is read: as a form, JSON or multipart for
 * `_method` and CEL conditions, as MCP's JSON-RPC. Sent twice, sidekey and the upstream could each
 * read another one (Node keeps the first, gunicorn's `CONTENT_TYPE` the last), and a body decided
 * on as one kind would run as another.
 */
const SINGLETONS = ['content-type'];
/** Throw SIDEKEY_ERR_BAD_REQUEST when the request carries a singleton field more than once. */
export function refuseRepeatedSingletons(rawHeaders) {
    for (const name of SINGLETONS) {
        let seen = 0;
        for (let i = 0; i < rawHeaders.length; i += 2) {
            if (rawHeaders[i].length === name.length && rawHeaders[i].toLowerCase() === name && ++seen > 1) {
                throw new SidekeyError('SIDEKEY_ERR_BAD_REQUEST', `the request has more than one ${rawHeaders[i]} header, and servers disagree on which one counts (the first, the last, both joined), so sidekey would decide on one reading of the body while another runs: send one`);
            }
        }
    }
}
//# sourceMappingURL=singleton-fields.js.map