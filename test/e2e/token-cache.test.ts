import t from 'tap'
import { SidekeyError } from '../../src/errors.js'
import { TokenCache, type FetchedToken } from '../../src/credentials/token-cache.js'
import { pollFor } from '../helpers/poll.js'

const fail = (why: string) => new SidekeyError('SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE', `credential "idp": ${why}`)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

t.test('one fetch in flight per key, however many wait', async (t) => {
  const cache = new TokenCache()
  t.teardown(() => cache.close())
  let fetches = 0
  const fetch = async (): Promise<FetchedToken> => {
    fetches++
    await sleep(20)
    return { value: `tok-${fetches}`, expiresAt: Date.now() + 60_000 }
  }
  const got = await Promise.all(Array.from({ length: 50 }, () => cache.get('k', fetch)))
  t.equal(fetches, 1)
  t.same(new Set(got.map((g) => g.value)), new Set(['tok-1']))
  t.equal(got.filter((g) => g.source === 'fetch').length, 50, 'every waiter of the first fetch waited for it')
  t.equal((await cache.get('k', fetch)).source, 'cache')
  await cache.get('other', fetch)
  t.equal(fetches, 2, 'another key fetches on its own')
})

// Timings below are seconds, not milliseconds, and outcomes are polled for: CI runs these on a
// loaded machine, where a timer can fire a few hundred milliseconds late.

t.test('refresh ahead happens in the background; the old token serves meanwhile', async (t) => {
  const cache = new TokenCache({ refreshAt: 0.5 })
  t.teardown(() => cache.close())
  let n = 0
  const fetch = async (): Promise<FetchedToken> => ({ value: `tok-${++n}`, expiresAt: Date.now() + 4000 })
  t.equal((await cache.get('k', fetch)).value, 'tok-1')
  await sleep(500)
  t.equal(n, 1, 'no refresh before half the lifetime')
  const early = await cache.get('k', fetch)
  t.match(early, { value: 'tok-1', source: 'cache', expiresAt: Number })
  // Half the lifetime (2 s) passes: the refresh runs in the background, no request waits for it.
  const refreshed = await pollFor(() => cache.get('k', fetch), (got) => got.value !== 'tok-1')
  t.not(refreshed.value, 'tok-1', 'the background refresh replaced it')
  t.equal(refreshed.source, 'cache', 'and no request waited for it')
})

t.test('failures: a valid token keeps serving, an expired one fails closed, backoff spares the provider', async (t) => {
  const cache = new TokenCache({ refreshAt: 0.5, backoffMinMs: 2000, backoffMaxMs: 4000 })
  t.teardown(() => cache.close())
  let up = true
  let calls = 0
  const fetch = async (): Promise<FetchedToken> => {
    calls++
    if (!up) throw fail('token endpoint answered HTTP 500')
    return { value: `tok-${calls}`, expiresAt: Date.now() + 3000 }
  }
  await cache.get('k', fetch)
  up = false
  // The refresh at 1.5 s fails; the token is good until 2.7 s (lifetime less a tenth).
  await pollFor(async () => calls, (c) => c > 1)
  t.equal((await cache.get('k', fetch)).value, 'tok-1', 'refresh failed, the valid token still serves')
  const refused = await pollFor(
    () => cache.get('k', fetch).then(() => null, (err: unknown) => err),
    (err) => err !== null,
  )
  t.match(refused, { code: 'SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE', message: /HTTP 500/ }, 'expired: fail closed with the reason')
  const before = calls
  for (let i = 0; i < 20; i++) await t.rejects(cache.get('k', fetch))
  t.ok(calls - before <= 1, `during backoff requests fail fast without fetching (${calls - before} fetches for 20 requests)`)
  up = true
  const back = await pollFor(
    () => cache.get('k', fetch).then((got) => got.value, () => null),
    (value) => value !== null,
    12_000,
  )
  t.match(back, /^tok-/, 'recovers once the provider does')
})

t.test('invalidate drops only the token it names', async (t) => {
  const cache = new TokenCache()
  t.teardown(() => cache.close())
  let n = 0
  const fetch = async (): Promise<FetchedToken> => ({ value: `tok-${++n}`, expiresAt: Date.now() + 60_000 })
  await cache.get('k', fetch)
  t.notOk(cache.invalidate('k', 'tok-stale'), 'a stale value does not drop the current token')
  t.equal((await cache.get('k', fetch)).value, 'tok-1')
  t.ok(cache.invalidate('k', 'tok-1'))
  t.match(await cache.get('k', fetch), { value: 'tok-2', source: 'fetch', expiresAt: Number })
})

t.test('a 401 drops a key\'s token at most once per interval', async (t) => {
  const cache = new TokenCache({ invalidateIntervalMs: 300 })
  t.teardown(() => cache.close())
  let n = 0
  const fetch = async (): Promise<FetchedToken> => ({ value: `tok-${++n}`, expiresAt: Date.now() + 60_000 })
  await cache.get('k', fetch)
  await cache.get('other', fetch)
  t.ok(cache.invalidate('k', 'tok-1'))
  t.equal((await cache.get('k', fetch)).value, 'tok-3')
  t.notOk(cache.mayInvalidate('k'))
  t.notOk(cache.invalidate('k', 'tok-3'), 'not again within the interval')
  t.equal((await cache.get('k', fetch)).value, 'tok-3', 'the token is kept')
  t.ok(cache.mayInvalidate('other'), 'another key has its own interval')
  await new Promise((r) => setTimeout(r, 350))
  t.ok(cache.invalidate('k', 'tok-3'), 'after the interval, a 401 drops it again')
})

t.test('entries are bounded', async (t) => {
  const cache = new TokenCache({ maxEntries: 3 })
  t.teardown(() => cache.close())
  for (let i = 0; i < 10; i++) await cache.get(`k${i}`, async () => ({ value: 'v', expiresAt: Date.now() + 60_000 }))
  t.equal(cache.size, 3)
})

t.test('a refresh fraction outside (0,1) is a programming error', async (t) => {
  t.throws(() => new TokenCache({ refreshAt: 1.5 }), TypeError)
})
