import { SidekeyError } from '../errors.js'

/**
 * How much memory request bodies being read whole may hold (for CEL over `body`, an approval, an
 * MCP message, a SigV4 payload hash): per workload, and in total (four workloads' worth). Each
 * body is bounded by its route's inspection limit, but not their number: on HTTP/2 one connection
 * carries 128 streams, and an agent that sent 960 KiB on each and never ended them held 120 MiB
 * per connection, as long as it liked (found by a red-team run; sidekey would run out of memory,
 * taking every other workload with it). Past the budget the body is refused before more of it is
 * read; a body read whole, or refused, gives its share back.
 */
export class BodyBudget {
  readonly #perWorkload: number
  readonly #total: number
  readonly #held = new Map<string, number>()
  #sum = 0

  constructor(perWorkload: number) {
    this.#perWorkload = perWorkload
    this.#total = perWorkload * 4
  }

  /** Take `bytes` for `workload`'s body being read; throws the refusal when that would pass a budget. */
  take(workload: string, bytes: number): void {
    const mine = this.#held.get(workload) ?? 0
    if (mine + bytes > this.#perWorkload) {
      throw new SidekeyError('SIDEKEY_ERR_BODIES_BUFFERED', `workload "${workload}" already has ${mine} bytes of request bodies being read whole (for conditions, approvals or MCP), and this one would pass the ${this.#perWorkload} bytes it may hold at once (--max-buffered-body-bytes); finish or cancel the requests in flight (end their bodies) before sending more`, { retryAfterS: 1 })
    }
    if (this.#sum + bytes > this.#total) {
      throw new SidekeyError('SIDEKEY_ERR_BODIES_FULL', `sidekey already holds ${this.#sum} bytes of request bodies being read whole, the most it holds at once; try again shortly`, { retryAfterS: 1 })
    }
    this.#held.set(workload, mine + bytes)
    this.#sum += bytes
  }

  /** Give back `bytes` of `workload`'s share. */
  give(workload: string, bytes: number): void {
    const left = (this.#held.get(workload) ?? 0) - bytes
    if (left > 0) this.#held.set(workload, left)
    else this.#held.delete(workload)
    this.#sum -= bytes
  }

  /** Bytes held now (for tests and metrics). */
  held(workload?: string): number {
    return workload === undefined ? this.#sum : (this.#held.get(workload) ?? 0)
  }
}
