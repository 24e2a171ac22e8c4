import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { SidekeyError } from '../../errors.js';
import { providerFailure } from '../provider-http.js';
import { refreshDue } from '../token-cache.js';
/** How long one replica may hold the refresh lease, and how often the others look for its result. */
const LEASE_MS = 30_000;
const LEASE_POLL_MS = 100;
/** Access tokens remembered as refused by an upstream, at most. */
const MAX_REJECTED = 256;
/** How long what a replica read about a grant is trusted before a request reads it again. */
const STATUS_REFRESH_MS = 5_000;
/**
 * The delegated grants sidekey holds for people: their access tokens, refreshed off the request
 * path, and their state (connected, needs attention, revoked). With many replicas exactly one
 * refreshes a grant at a time (a lease in the shared store); the others wait for its result and
 * use it, so a server that rotates refresh tokens never sees the old one twice.
 */
export class DelegatedGrants {
    vault;
    store;
    /** What this replica last read about each grant: why it cannot be used (null: it can), which connection, when read. */
    #known = new Map();
    /** When this replica last obtained each grant's token for a request. */
    #lastUsed = new Map();
    /** Access tokens an upstream answered 401 to: refreshed rather than served again from the record. */
    #rejected = new Set();
    #attention = new Set();
    /** Bumped when this replica sees a grant connected anew, broken or revoked: tokens cached for it before are not served. */
    #epochs = new Map();
    /** Refreshes this replica made (tests count one per expiry across replicas). */
    stats = { refreshes: 0 };
    constructor(vault, store) {
        this.vault = vault;
        this.store = store;
    }
    /** Called when a grant starts needing a person. Returns an unsubscribe. */
    onAttention(listener) {
        this.#attention.add(listener);
        return () => this.#attention.delete(listener);
    }
    /**
     * Throws SIDEKEY_ERR_GRANT_RECONNECT when the grant cannot be used. What this replica read is
     * trusted for `STATUS_REFRESH_MS`, so a request reads the store at most that often per grant, and a
     * grant revoked, broken or connected on another replica is seen here within that time.
     */
    async assertUsable(name) {
        const now = Date.now();
        let known = this.#known.get(name);
        // A grant known to be unusable is read again every time: refusals are rare, and a person who
        // just connected it on another replica should not wait for this one to notice.
        if (known === undefined || known.problem !== null || now - known.at >= STATUS_REFRESH_MS) {
            await this.#read(name);
            known = this.#known.get(name);
        }
        if (known.problem !== null)
            throw reconnect(name, known.problem);
        this.#lastUsed.set(name, now);
    }
    /** The grant's epoch on this replica (see `#epochs`). */
    epoch(name) {
        return this.#epochs.get(name) ?? 0;
    }
    /** Forget `token` as served from the record: an upstream answered 401 to it. */
    rejected(token) {
        // Each is removed once its grant is refreshed; the bound only guards against a record that never is.
        if (this.#rejected.size >= MAX_REJECTED)
            this.#rejected.clear();
        this.#rejected.add(token);
    }
    /**
     * A usable access token for the grant: the stored one while it is fresh, otherwise a refresh
     * (by this replica if it takes the lease, or by the replica that holds it).
     */
    async accessToken(client) {
        const deadline = Date.now() + LEASE_MS;
        for (;;) {
            const stored = await this.#read(client.name);
            const record = usable(client.name, stored.record);
            if (this.#fresh(record, client.refreshAt))
                return { value: record.accessToken, expiresAt: record.accessExpiresAt };
            const holder = randomUUID();
            if (await this.store.acquireLease(leaseName(client.name), holder, LEASE_MS)) {
                try {
                    return await this.#refresh(client);
                }
                finally {
                    await this.store.releaseLease(leaseName(client.name), holder).catch(() => undefined);
                }
            }
            // Another replica refreshes: wait for its result rather than spend the refresh token twice.
            if (Date.now() > deadline)
                throw providerFailure(client.name, 'another replica holds the refresh of this grant and did not finish in time');
            await sleep(LEASE_POLL_MS);
        }
    }
    /** Store a newly connected grant (from the authorization code exchange), replacing any before it. */
    async connected(client, answer, by) {
        const now = Date.now();
        const record = {
            credential: client.name,
            status: 'connected',
            problem: null,
            provider: client.server.provider,
            scopes: answer.scope === null ? client.scopes : answer.scope.split(' ').filter(Boolean),
            connectedBy: by,
            connectedAt: new Date(now).toISOString(),
            refreshedAt: null,
            refreshToken: answer.refreshToken,
            accessToken: answer.value,
            accessObtainedAt: now,
            accessExpiresAt: answer.expiresAt,
            generation: 0,
        };
        await this.#replace(client.name, () => record);
    }
    /**
     * Revoke a grant: at the provider (RFC 7009) when it advertises a revocation endpoint, here in
     * every case. Returns whether the provider confirmed it (null: it has no revocation endpoint, or
     * there was nothing to revoke there).
     */
    async revoke(client, by) {
        const { record } = await this.#read(client.name);
        const { revocation } = await client.server.endpoints().catch(() => ({ revocation: null }));
        let atProvider = null;
        if (revocation !== null && record !== null && record.status !== 'revoked') {
            // The refresh token first: revoking it revokes the grant's access tokens too at most servers (section 2.1).
            const token = record.refreshToken ?? record.accessToken;
            if (token !== null)
                atProvider = await client.endpoint.revoke(revocation, token, record.refreshToken !== null ? 'refresh_token' : 'access_token').catch(() => false);
        }
        await this.#replace(client.name, (current) => blank(client, current, 'revoked', `revoked by ${by}`));
        return { atProvider };
    }
    /** What the console shows about a grant. */
    async summary(client) {
        const { record } = await this.#read(client.name);
        const used = this.#lastUsed.get(client.name);
        return {
            credential: client.name,
            provider: record?.provider ?? client.server.provider,
            status: record === null ? 'not-connected' : record.status,
            problem: record?.problem ?? null,
            scopes: record?.scopes ?? [],
            requested_scopes: client.scopes,
            connected_by: record?.connectedBy ?? null,
            connected_at: record?.connectedAt ?? null,
            refreshed_at: record?.refreshedAt ?? null,
            last_used: used === undefined ? null : new Date(used).toISOString(),
            access_expires_at: record?.accessToken ? new Date(record.accessExpiresAt).toISOString() : null,
            has_refresh_token: record?.refreshToken != null,
        };
    }
    /** Read a grant and note here whether it can be used. */
    async #read(name) {
        const stored = await this.vault.read(name);
        this.#note(name, stored.record);
        return stored;
    }
    /**
     * Remember what a record says. A grant that became usable or unusable, or was connected anew,
     * starts a new epoch: no token cached for it before (nor a remembered failure) is served again.
     */
    #note(name, r) {
        const problem = problemOf(r);
        const connectedAt = r?.status === 'connected' ? r.connectedAt : null;
        const before = this.#known.get(name);
        if (before !== undefined && ((before.problem === null) !== (problem === null) || before.connectedAt !== connectedAt))
            this.#epochs.set(name, this.epoch(name) + 1);
        this.#known.set(name, { problem, connectedAt, at: Date.now() });
    }
    #fresh(record, refreshAt) {
        if (record.accessToken === null || this.#rejected.has(record.accessToken))
            return false;
        return Date.now() < refreshDue(record.accessObtainedAt, record.accessExpiresAt, refreshAt);
    }
    /** Refresh under the lease: the record is read again first, since the last holder may have just refreshed it. */
    async #refresh(client) {
        const stored = await this.#read(client.name);
        const record = usable(client.name, stored.record);
        if (this.#fresh(record, client.refreshAt))
            return { value: record.accessToken, expiresAt: record.accessExpiresAt };
        if (record.refreshToken === null) {
            if (record.accessToken !== null && !this.#rejected.has(record.accessToken) && record.accessExpiresAt > Date.now())
                return { value: record.accessToken, expiresAt: record.accessExpiresAt };
            throw await this.#needsAttention(client, stored, 'the provider issued no refresh token and the access token expired');
        }
        const form = { grant_type: 'refresh_token', refresh_token: record.refreshToken };
        const { resource } = await client.server.endpoints();
        if (resource !== null)
            form.resource = resource;
        this.stats.refreshes++;
        let answer;
        try {
            answer = bearerOnly(client.name, await client.endpoint.requestGrant(form));
        }
        catch (err) {
            // RFC 6749 section 5.2: invalid_grant means the refresh token is expired, revoked or was used before.
            if (err instanceof SidekeyError && err.details?.provider_error === 'invalid_grant')
                throw await this.#needsAttention(client, stored, 'the provider refused the refresh token (invalid_grant)');
            throw err;
        }
        if (record.accessToken !== null)
            this.#rejected.delete(record.accessToken);
        const now = Date.now();
        const next = {
            ...record,
            // RFC 6749 section 6: a new refresh token replaces the old; none issued keeps the old one.
            refreshToken: answer.refreshToken ?? record.refreshToken,
            accessToken: answer.value,
            accessObtainedAt: now,
            accessExpiresAt: answer.expiresAt,
            refreshedAt: new Date(now).toISOString(),
            scopes: answer.scope === null ? record.scopes : answer.scope.split(' ').filter(Boolean),
            generation: record.generation + 1,
        };
        if ((await this.vault.write(client.name, stored.raw, next)) === null) {
            // Changed under the lease: revoked or reconnected meanwhile. That change wins; use what it says.
            const winner = (await this.#read(client.name)).record;
            // Revoked while this refresh was at the provider: the revocation spent the old refresh token,
            // and the one just issued would keep the grant alive at the provider with nobody holding it.
            if (winner?.status !== 'connected' && answer.refreshToken !== null)
                void this.#revokeOrphan(client, answer.refreshToken);
            const current = usable(client.name, winner);
            // Reconnected meanwhile (perhaps another account): serve the new connection's token, not this one.
            return { value: current.accessToken, expiresAt: current.accessExpiresAt };
        }
        return { value: next.accessToken, expiresAt: next.accessExpiresAt };
    }
    /** Best effort (RFC 7009): revoke a refresh token issued after its grant was revoked here. */
    async #revokeOrphan(client, refreshToken) {
        const { revocation } = await client.server.endpoints().catch(() => ({ revocation: null }));
        if (revocation !== null)
            await client.endpoint.revoke(revocation, refreshToken, 'refresh_token').catch(() => false);
    }
    /** Mark the grant as needing a person, alert once, and return the refusal to throw. */
    async #needsAttention(client, stored, problem) {
        const next = blank(client, stored.record, 'needs-attention', problem);
        const written = await this.vault.write(client.name, stored.raw, next);
        this.#note(client.name, next);
        if (written !== null) {
            const alert = { event: 'grant_needs_attention', credential: client.name, problem, at: new Date().toISOString() };
            for (const listener of this.#attention)
                listener(alert);
        }
        return reconnect(client.name, problem);
    }
    /** Compare-and-set `change` of the current record until it lands. */
    async #replace(name, change) {
        for (let attempt = 0; attempt < 8; attempt++) {
            const { record, raw } = await this.vault.read(name);
            const next = change(record);
            if ((await this.vault.write(name, raw, next)) !== null) {
                this.#note(name, next);
                return;
            }
        }
        throw providerFailure(name, 'the stored grant kept changing under concurrent writes');
    }
}
/**
 * The answer if its token is a Bearer token (RFC 6750), as sidekey injects it. A token of another
 * type (DPoP, RFC 9449: bound to a key sidekey does not hold; or a MAC token) is refused rather than
 * sent as a Bearer token. An answer without `token_type` is taken as Bearer (RFC 6749 requires the
 * field; some providers leave it out).
 */
export function bearerOnly(name, answer) {
    if (answer.tokenType !== null && answer.tokenType.toLowerCase() !== 'bearer')
        throw providerFailure(name, `the token endpoint issued a token of type ${/^[\w.-]{1,32}$/.test(answer.tokenType) ? answer.tokenType : '(unreadable)'}, not Bearer; sidekey injects Bearer tokens only`);
    return answer;
}
/** Why a grant cannot be used, in words for the refusal and the console; null when it can. */
function problemOf(record) {
    if (record === null)
        return 'it was never connected';
    return record.status === 'connected' ? null : (record.problem ?? record.status);
}
/** The record if it can be used, or the refusal that says a person must reconnect. */
function usable(name, record) {
    const problem = problemOf(record);
    if (problem !== null)
        throw reconnect(name, problem);
    return record;
}
/** A record with its tokens gone (revoked, or refused at refresh), keeping who connected it. */
function blank(client, current, status, problem) {
    return {
        credential: client.name,
        provider: current?.provider ?? client.server.provider,
        scopes: current?.scopes ?? [],
        connectedBy: current?.connectedBy ?? '',
        connectedAt: current?.connectedAt ?? new Date().toISOString(),
        refreshedAt: current?.refreshedAt ?? null,
        status,
        problem,
        refreshToken: null,
        accessToken: null,
        accessObtainedAt: 0,
        accessExpiresAt: 0,
        generation: (current?.generation ?? 0) + 1,
    };
}
function leaseName(credential) {
    return `oauth-refresh:${credential}`;
}
/** The refusal an agent gets for a grant a person must connect again; names no token. */
export function reconnect(name, problem) {
    return new SidekeyError('SIDEKEY_ERR_GRANT_RECONNECT', `credential "${name}" is a person's delegated account that cannot be used (${problem}); nothing was sent. A person must connect it again: console "Connect ${name}", or sidekey oauth connect ${name}`);
}
//# sourceMappingURL=grants.js.map