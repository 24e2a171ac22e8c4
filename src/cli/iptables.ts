import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { parse } from './args.js'

/**
 * `sidekey iptables`: the rules of transparent mode, printed or applied (the chart's init
 * container runs it with NET_ADMIN). In the pod's network namespace, outbound TCP to ports 80 and
 * 443 from every user but sidekey's own is redirected to sidekey's transparent listeners; with
 * `--block-other-egress`, every other outbound connection of those users is rejected too, except
 * DNS and loopback, so the agent reaches the network only through sidekey. Sidekey's own traffic
 * (its user id) is never redirected, or its upstream connections would loop back to itself.
 */

export interface TransparentRules {
  /** sidekey's user id (its traffic is left alone). */
  readonly uid: number
  readonly httpPort: number
  readonly httpsPort: number
  readonly blockOtherEgress: boolean
}

/** The iptables invocations, in order (arguments after `iptables`). */
export function transparentRules(r: TransparentRules): string[][] {
  const uid = String(r.uid)
  const rules = [
    ['-t', 'nat', '-N', 'SIDEKEY_OUTPUT'],
    ['-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '-j', 'SIDEKEY_OUTPUT'],
    ['-t', 'nat', '-A', 'SIDEKEY_OUTPUT', '-m', 'owner', '--uid-owner', uid, '-j', 'RETURN'],
    ['-t', 'nat', '-A', 'SIDEKEY_OUTPUT', '-d', '127.0.0.0/8', '-j', 'RETURN'],
    ['-t', 'nat', '-A', 'SIDEKEY_OUTPUT', '-p', 'tcp', '--dport', '443', '-j', 'REDIRECT', '--to-ports', String(r.httpsPort)],
    ['-t', 'nat', '-A', 'SIDEKEY_OUTPUT', '-p', 'tcp', '--dport', '80', '-j', 'REDIRECT', '--to-ports', String(r.httpPort)],
  ]
  if (r.blockOtherEgress) {
    rules.push(
      ['-N', 'SIDEKEY_EGRESS'],
      ['-A', 'OUTPUT', '-j', 'SIDEKEY_EGRESS'],
      ['-A', 'SIDEKEY_EGRESS', '-m', 'owner', '--uid-owner', uid, '-j', 'RETURN'],
      // Loopback, and the connections just redirected to sidekey (their destination is already
      // rewritten to 127.0.0.1 by the nat rules above, which run first).
      ['-A', 'SIDEKEY_EGRESS', '-o', 'lo', '-j', 'RETURN'],
      ['-A', 'SIDEKEY_EGRESS', '-d', '127.0.0.0/8', '-j', 'RETURN'],
      ['-A', 'SIDEKEY_EGRESS', '-m', 'conntrack', '--ctstate', 'DNAT', '-j', 'RETURN'],
      ['-A', 'SIDEKEY_EGRESS', '-p', 'udp', '--dport', '53', '-j', 'RETURN'],
      ['-A', 'SIDEKEY_EGRESS', '-p', 'tcp', '--dport', '53', '-j', 'RETURN'],
      ['-A', 'SIDEKEY_EGRESS', '-p', 'tcp', '-j', 'REJECT', '--reject-with', 'tcp-reset'],
      ['-A', 'SIDEKEY_EGRESS', '-j', 'REJECT'],
    )
  }
  return rules
}

export async function iptables(argv: string[]): Promise<number> {
  const { flags } = parse(argv, ['uid', 'http-port', 'https-port', 'iptables'], ['block-other-egress', 'apply'])
  const num = (v: string | boolean | undefined, fallback: number): number => (typeof v === 'string' && /^[0-9]{1,5}$/.test(v) ? Number(v) : v === undefined ? fallback : NaN)
  const r: TransparentRules = { uid: num(flags.uid, 10001), httpPort: num(flags['http-port'], 15080), httpsPort: num(flags['https-port'], 15443), blockOtherEgress: flags['block-other-egress'] === true }
  if ([r.uid, r.httpPort, r.httpsPort].some((n) => !Number.isInteger(n))) {
    console.error('usage: sidekey iptables [--uid N] [--http-port N] [--https-port N] [--block-other-egress] [--apply] [--iptables PATH]')
    return 2
  }
  const binary = typeof flags.iptables === 'string' ? flags.iptables : 'iptables'
  const rules = transparentRules(r)
  if (flags.apply !== true) {
    for (const args of rules) console.log([binary, ...args].join(' '))
    return 0
  }
  const run = promisify(execFile)
  for (const args of rules) {
    try {
      await run(binary, args)
    } catch (err) {
      console.error(`sidekey: ${binary} ${args.join(' ')} failed: ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`)
      return 1
    }
  }
  console.log(`transparent mode: outbound 80 -> ${r.httpPort}, 443 -> ${r.httpsPort} for every user but ${r.uid}${r.blockOtherEgress ? '; other egress rejected' : ''}`)
  return 0
}
