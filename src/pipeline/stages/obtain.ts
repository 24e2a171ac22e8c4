import { known, type RequestExchange, type Stage } from '../exchange.js'

/**
 * The obtain stage: the route's credential for this caller, just in time (from the token cache,
 * the provider, or a static secret). Never for a request only report-only mode let through. The
 * secret (and an AWS session token, which goes upstream as it is) is taught to the scanner, so
 * an echo of it is masked and an agent that somehow learns it cannot send it anywhere.
 */
export const obtainCredential: Stage<RequestExchange> = {
  name: 'obtain',
  async run(ctx, ex) {
    const decision = known(ex.decision, 'a decision')
    const credential = decision.route?.credential
    if (credential == null || decision.reportOnly) return
    const caller = known(ex.caller, 'a caller')
    ex.audit.credential = credential.name
    const obtainedAt = performance.now()
    try {
      const obtained = await credential.obtain(caller.workload)
      ex.secret = obtained.secret
      ex.aws = obtained.aws ?? null
      // Slotted by credential and caller: remembered while valid, and a token replaced again and
      // again does not grow the set past its bound (guard/secret-scan.ts).
      const slot = credentialSlot(credential.name, caller.workload)
      ctx.scanner.add(obtained.secret, slot, obtained.expiresAt)
      // Every part of a credential that goes upstream is a secret: SigV4 sends the session token
      // as it is (X-Amz-Security-Token), so an echo of it would hand the agent a usable part of the role.
      if (obtained.aws !== undefined) ctx.scanner.add(obtained.aws.sessionToken, `${slot}\0session-token`, obtained.expiresAt)
      ex.audit.credential_source = obtained.source
    } catch (err) {
      // The reason (provider unreachable, what it answered) for whoever reads the log; messages name no secret.
      // What a provider said in its own words is for the operator only (credentials/cloud/vault.ts).
      const said = (err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : undefined
      ctx.log.warn({ event: 'credential_unavailable', request: ex.id, credential: credential.name, err: (err as Error).message, ...(said === undefined ? {} : { provider_said: said }) }, 'credential could not be obtained; request refused')
      throw err
    } finally {
      ex.audit.credential_ms = performance.now() - obtainedAt
    }
  },
}

/** The scanner's slot for the secrets a credential gives a workload. */
export function credentialSlot(credential: string, workload: string | null): string {
  return `${credential}\0${workload ?? ''}`
}
