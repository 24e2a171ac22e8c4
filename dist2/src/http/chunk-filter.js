import { Transform } from 'node:stream';
/** Filters applied one after the other; null for none. */
export function chainFilters(filters) {
    if (filters.length <= 1)
        return filters[0] ?? null;
    return {
        push(chunk) {
            let c = chunk;
            for (const f of filters) {
                if (c === null)
                    break;
                c = f.push(c);
            }
            return c;
        },
        end() {
            // What one filter still held passes through the later ones before they end.
            let carry = null;
            for (const f of filters) {
                const pushed = carry === null ? null : f.push(carry);
                const rest = f.end();
                carry = pushed === null ? rest : rest === null ? pushed : Buffer.concat([pushed, rest]);
            }
            return carry;
        },
    };
}
/** A ChunkFilter as a Transform (for bodies that pass through decoders first, and for tests). */
export function filterStream(filter) {
    return new Transform({
        transform(chunk, _enc, done) {
            let pass;
            try {
                pass = filter.push(chunk);
            }
            catch (err) {
                done(err);
                return;
            }
            done(null, pass ?? undefined);
        },
        flush(done) {
            try {
                done(null, filter.end() ?? undefined);
            }
            catch (err) {
                done(err);
            }
        },
    });
}
//# sourceMappingURL=chunk-filter.js.map