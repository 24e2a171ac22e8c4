import t from 'tap'
import { HOP_BY_HOP, refuseTransferCodings, responseWithoutHopByHop, withoutHopByHop } from '../../src/inject/hop-by-hop.js'

// Hop-by-hop removal, table-driven (RFC 9110 section 7.6.1): the fixed list, every name a
// Connection header lists (however many Connection headers there are, in any letter case), and
// the framing sidekey refuses to relay.

/** Raw headers as `name: value` lines joined with " | ", for one-line expectations. */
function lines(raw: readonly string[]): string {
  const out: string[] = []
  for (let i = 0; i < raw.length; i += 2) out.push(`${raw[i]}: ${raw[i + 1]}`)
  return out.join(' | ')
}

t.test('the fixed list: never forwarded, in any letter case', async (t) => {
  t.same([...HOP_BY_HOP].sort(), ['connection', 'expect', 'host', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade'])
  for (const name of HOP_BY_HOP) {
    for (const spelling of [name, name.toUpperCase(), name.replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => dash + c.toUpperCase())]) {
      t.equal(lines(withoutHopByHop([spelling, 'v', 'Accept', '*/*'])), 'Accept: */*', spelling)
    }
  }
})

t.test('request headers: what Connection names goes too', async (t) => {
  const table: [rule: string, sent: string[], forwarded: string][] = [
    ['one Connection header, a list in mixed case', ['Connection', 'keep-alive, X-Foo', 'X-Foo', '1', 'x-bar', '2'], 'x-bar: 2'],
    ['repeated Connection headers, each listing names', ['Connection', 'X-A', 'connection', ' x-b ,, X-C ', 'X-A', '1', 'x-b', '2', 'X-C', '3', 'X-D', '4'], 'X-D: 4'],
    ['a Connection header after the header it names', ['X-Late', '1', 'Accept', 'a', 'CONNECTION', 'x-late'], 'Accept: a'],
    ['"close" names no header', ['Connection', 'close', 'Content-Length', '5'], 'Content-Length: 5'],
    ['an empty Connection header', ['Connection', '', 'X', 'y'], 'X: y'],
    // An agent cannot name the credential away: injection comes after this, and adds it again.
    ['Connection: authorization drops the agent\'s own Authorization', ['Connection', 'authorization', 'Authorization', 'Bearer agent', 'Accept', 'a'], 'Accept: a'],
    // Framing is the forwarder's: without Content-Length the body goes upstream chunked.
    ['an end-to-end header named in Connection goes too', ['Connection', 'content-length', 'Content-Length', '5', 'Accept', 'a'], 'Accept: a'],
    ['a list element is a whole token: parameters and spaces are not split off', ['Connection', 'X-A;q=1, X-B X-C', 'X-A;q=1', 'v', 'X-A', 'w', 'X-B', '1', 'X-C', '2'], 'X-A: w | X-B: 1 | X-C: 2'],
    ['order and repeats of what stays are kept', ['Via', '1', 'Keep-Alive', 't', 'via', '2', 'Accept', 'a'], 'Via: 1 | via: 2 | Accept: a'],
  ]
  for (const [rule, sent, forwarded] of table) t.equal(lines(withoutHopByHop(sent)), forwarded, rule)
  t.equal(lines(withoutHopByHop(['X-Keep', '1', 'X-Drop', '2', 'x-drop', '3'], ['x-drop'])), 'X-Keep: 1', 'extra names to drop, matched in any case')
  t.equal(lines(withoutHopByHop(['X-Keep', '1', 'X-Drop', '2', 'X_Drop', '3'], ['X-Drop'])), 'X-Keep: 1', 'extra names in any case, and with _ for - (as CGI-style servers read names)')
  t.equal(lines(withoutHopByHop(['X-Keep', '1', 'Proxy_Authorization', 'Basic x', 'Keep_Alive', '5', 'X_Keep_Too', '2'])), 'X-Keep: 1 | X_Keep_Too: 2', 'hop-by-hop names spelled with _ go; other names with _ stay')
  t.equal(lines(withoutHopByHop(['Connection', 'x_secret', 'X-Secret', '1', 'X-Keep', '2'])), 'X-Keep: 2', 'a Connection token with _ names the dashed header too')
})

t.test('response headers (lower-case names from undici): the same rules', async (t) => {
  const table: [rule: string, received: Record<string, string | string[] | undefined>, relayed: Record<string, string | string[]>][] = [
    ['the fixed list and what Connection names', { connection: 'X-Foo, keep-alive', 'x-foo': '1', 'keep-alive': 't', te: 'x', upgrade: 'y', 'transfer-encoding': 'chunked', 'content-type': 'a' }, { 'content-type': 'a' }],
    ['repeated Connection headers arrive as an array', { connection: ['X-A', 'x-b'], 'x-a': '1', 'x-b': '2', 'x-c': '3' }, { 'x-c': '3' }],
    ['arrays of values pass whole; undefined values are left out', { 'set-cookie': ['a', 'b'], 'x-u': undefined }, { 'set-cookie': ['a', 'b'] }],
    ['names are expected in lower case', { 'X-Upper': '1', Connection: 'x-upper' }, { 'X-Upper': '1', Connection: 'x-upper' }],
  ]
  for (const [rule, received, relayed] of table) t.same(responseWithoutHopByHop(received), relayed, rule)
})

t.test('a response framed with a transfer coding other than chunked is refused', async (t) => {
  const table: [rule: string, codings: (string | string[] | undefined)[], refused: boolean][] = [
    ['no transfer coding, or chunked only (in any case, repeated)', [undefined, 'chunked', 'Chunked', 'chunked, chunked', ['chunked', 'chunked'], '', ' , '], false],
    ['any other coding, alone or before chunked', ['gzip, chunked', ['gzip', 'chunked'], 'identity', 'chunked, gzip'], true],
  ]
  for (const [rule, codings, refused] of table) {
    for (const coding of codings) {
      const headers = coding === undefined ? {} : { 'transfer-encoding': coding }
      if (refused) t.throws(() => refuseTransferCodings(headers), { code: 'SIDEKEY_ERR_UNSCRUBBABLE_RESPONSE' }, `${rule}: ${JSON.stringify(coding)}`)
      else t.doesNotThrow(() => refuseTransferCodings(headers), `${rule}: ${JSON.stringify(coding)}`)
    }
  }
  t.throws(() => refuseTransferCodings({ 'transfer-encoding': 'GZIP, chunked' }), { message: /transfer coding "gzip, chunked"/ }, 'the message names the codings')
  t.throws(() => refuseTransferCodings({ 'transfer-encoding': 'sk-live-echoed, chunked' }), { message: /transfer coding "an unregistered coding, chunked"/ }, 'but quotes no word of the upstream\'s it does not know')
})
