import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { Readable } from 'node:stream'
import type { IncomingMessage } from 'node:http'
import { join } from 'node:path'
import { BedrockRuntimeClient, InvokeModelCommand } from '@aws-sdk/client-bedrock-runtime'
import { CopyObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { NodeHttpHandler } from '@smithy/node-http-handler'
import { HttpsProxyAgent } from 'https-proxy-agent'
import t from 'tap'
import { ProxyAgent, request } from 'undici'
import { payloadSha256, signAws } from '../../src/credentials/cloud/aws-sigv4.js'
import { resignBuffer, signingKey } from '../../src/inject/sigv4-chunked.js'
import { compilePolicy } from '../../src/policy/load.js'
import { pollFor } from '../helpers/poll.js'
import { noSecretsLogged, startTestSidekey, type TestSidekey } from '../helpers/sidekey.js'
import { startUpstream, upstreamTrust, type Upstream } from '../helpers/upstream.js'

// AWS through sidekey: credentials from a local STS stand-in that follows the Query API's wire
// format (form-encoded POST, XML answers and errors, as documented for AssumeRoleWithWebIdentity
// and AssumeRole), and requests signed by sidekey with SigV4. The agent is the official AWS SDK
// for JavaScript v3 (S3 and Bedrock Runtime clients) with placeholder keys; the service stand-ins
// verify every signature with the real temporary keys. The signer itself is checked against AWS's
// published test vectors. AWS itself is not reachable here.

interface Vectors {
  credentials: Record<string, { accessKeyId: string; secretAccessKey: string; region: string; service: string; at: string }>
  vectors: { name: string; credentials: string; method: string; url: string; headers: Record<string, string>; body: string; authorization: string }[]
}

t.test('SigV4 matches the published test vectors', async (t) => {
  const file = JSON.parse(await readFile(new URL('../../../test/fixtures/sigv4-vectors.json', import.meta.url), 'utf8')) as Vectors
  t.ok(file.vectors.length >= 6)
  for (const v of file.vectors) {
    const c = file.credentials[v.credentials]!
    const url = new URL(v.url)
    const headers = await signAws({ method: v.method, url, headers: { host: url.host, ...v.headers }, body: Buffer.from(v.body) }, c, { service: c.service, region: c.region }, new Date(c.at))
    t.equal(headers.authorization, v.authorization, v.name)
    t.equal(headers['x-amz-date'], c.at.replace(/[-:]/g, '').replace('.000', ''), `${v.name}: x-amz-date`)
  }
})

/** The real keys STS hands out, numbered so a refresh is visible. */
let issued = 0
function newKeys(prefix: string): { accessKeyId: string; secretAccessKey: string; sessionToken: string } {
  issued++
  return { accessKeyId: `ASIA${prefix}${String(issued).padStart(8, '0')}`, secretAccessKey: `real-secret-${prefix}-${issued}-K7MDENGbPxRfiCY`, sessionToken: `real-session-${prefix}-${issued}-FwoGZXIvYXdzEB` }
}

/** Verify a request's SigV4 signature the way AWS does: recompute it with the real secret. */
async function verifySigV4(req: IncomingMessage, body: string, keys: { accessKeyId: string; secretAccessKey: string; sessionToken: string }[], service: string): Promise<string | null> {
  const auth = req.headers.authorization ?? ''
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(auth)
  if (m === null) return `malformed authorization: ${auth.slice(0, 40)}`
  const key = keys.find((k) => k.accessKeyId === m[1])
  if (key === undefined) return `unknown access key ${m[1]}`
  if (m[4] !== service) return `signed for service ${m[4]}, not ${service}`
  if (req.headers['x-amz-security-token'] !== key.sessionToken) return 'session token missing or wrong'
  const signedNames = m[5]!.split(';')
  const headers: Record<string, string> = {}
  for (const n of signedNames) headers[n] = String(req.headers[n] ?? '')
  const amzDate = req.headers['x-amz-date'] as string
  const at = new Date(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`)
  const claimed = req.headers['x-amz-content-sha256'] as string | undefined
  // S3 reads an aws-chunked body only in a STREAMING-* mode ("Signature Version 4: streaming uploads").
  if (/aws-chunked/.test(String(req.headers['content-encoding'] ?? '')) && !claimed?.startsWith('STREAMING-')) return `an aws-chunked body signed as ${claimed}`
  if (claimed !== undefined && !claimed.startsWith('UNSIGNED') && !claimed.startsWith('STREAMING') && claimed !== payloadSha256(Buffer.from(body))) return 'x-amz-content-sha256 does not match the body'
  if (claimed === 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' || claimed === 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER') {
    // Every chunk signature must chain from the request's signature under the real secret: the
    // re-signer (pinned to AWS's worked examples in sigv4-chunked.test.ts) reproduces a valid body unchanged.
    const date = amzDate.slice(0, 8)
    const seedSignature = /Signature=([0-9a-f]{64})$/.exec(auth)![1]!
    const raw = Buffer.from(body, 'latin1')
    let expectedBody: Buffer
    try {
      expectedBody = resignBuffer({ signingKey: signingKey(key.secretAccessKey, date, m[3]!, service), amzDate, scope: `${date}/${m[3]}/${service}/aws4_request`, seedSignature, trailer: claimed.endsWith('-TRAILER') }, raw)
    } catch (err) {
      return `malformed chunked body: ${(err as Error).message}`
    }
    if (!expectedBody.equals(raw)) return 'a chunk signature does not match'
  }
  const expected = await signAws(
    { method: req.method!, url: new URL(`https://${req.headers.host}${req.url}`), headers, body: Buffer.from(body), ...(claimed !== undefined ? { payloadHash: claimed } : {}), signableHeaders: signedNames },
    key,
    { service, region: m[3]! },
    at,
  )
  return expected.authorization === auth ? null : 'signature does not match'
}

t.test('AWS web identity and SigV4 end to end', async (t) => {
  const trust = await upstreamTrust()
  const keys: { accessKeyId: string; secretAccessKey: string; sessionToken: string }[] = []
  const sts = { mode: 'ok' as 'ok' | 'down' | 'malformed', calls: [] as Record<string, string>[], lifetimeS: 3600 }
  const stsServer = await startUpstream(
    (req, res, body) => {
      const form = Object.fromEntries(new URLSearchParams(body))
      sts.calls.push(form)
      if (sts.mode === 'down') return void req.socket.destroy()
      const xmlError = (status: number, code: string, message: string): void => {
        res.writeHead(status, { 'content-type': 'text/xml' })
        res.end(`<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ErrorResponse>`)
      }
      if (form.Version !== '2011-06-15') return xmlError(400, 'InvalidParameterValue', 'Version')
      let k
      if (form.Action === 'AssumeRoleWithWebIdentity') {
        if (form.WebIdentityToken !== 'projected-token-for-sts.amazonaws.com') return xmlError(400, 'InvalidIdentityToken', 'Incorrect token audience')
        if (!/^arn:aws:iam::111122223333:role\//.test(form.RoleArn ?? '')) return xmlError(403, 'AccessDenied', 'Not authorized to perform sts:AssumeRoleWithWebIdentity')
        k = newKeys('WI')
      } else if (form.Action === 'AssumeRole') {
        // Chained: must be signed with the first role's temporary keys.
        void verifySigV4(req, body, keys, 'sts').then((problem) => {
          if (problem !== null) return xmlError(403, 'SignatureDoesNotMatch', problem)
          const chained = newKeys('CH')
          keys.push(chained)
          answer('AssumeRole', chained)
        })
        return
      } else return xmlError(400, 'InvalidAction', 'unknown')
      keys.push(k)
      if (sts.mode === 'malformed') {
        res.writeHead(200, { 'content-type': 'text/xml' })
        return void res.end('<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>x</AccessKeyId></Credentials>')
      }
      answer('AssumeRoleWithWebIdentity', k)
      function answer(action: string, c: { accessKeyId: string; secretAccessKey: string; sessionToken: string }): void {
        res.writeHead(200, { 'content-type': 'text/xml' })
        res.end(
          `<${action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><${action}Result><Credentials><AccessKeyId>${c.accessKeyId}</AccessKeyId><SecretAccessKey>${c.secretAccessKey}</SecretAccessKey><SessionToken>${c.sessionToken}</SessionToken><Expiration>${new Date(Date.now() + sts.lifetimeS * 1000).toISOString()}</Expiration></Credentials><AssumedRoleUser><Arn>arn:aws:sts::111122223333:assumed-role/agent/sidekey</Arn><AssumedRoleId>AROA:sidekey</AssumedRoleId></AssumedRoleUser></${action}Result><ResponseMetadata><RequestId>ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE</RequestId></ResponseMetadata></${action}Response>`,
        )
      }
    },
    { trust, host: '127.0.0.1' },
  )
  t.teardown(() => stsServer.close())

  const verified: { service: string; problem: string | null; accessKeyId: string }[] = []
  const objects = new Map<string, string>()
  const trailers: Record<string, string>[] = []
  const awsService = (service: string, host: string): Promise<Upstream> =>
    startUpstream(
      (req, res, body) => {
        void verifySigV4(req, body, keys, service).then((problem) => {
          verified.push({ service, problem, accessKeyId: /Credential=([^/]+)/.exec(req.headers.authorization ?? '')?.[1] ?? '' })
          if (problem !== null) {
            res.writeHead(403, { 'content-type': 'application/xml' })
            return void res.end(`<Error><Code>SignatureDoesNotMatch</Code><Message>${problem}</Message></Error>`)
          }
          if (service === 's3') {
            if (req.method === 'PUT' && req.headers['x-amz-copy-source'] !== undefined) {
              // CopyObject, as S3 answers it: the copy's ETag in an XML body.
              const source = objects.get(`/${decodeURIComponent(String(req.headers['x-amz-copy-source'])).replace(/^\//, '')}`)
              objects.set(req.url!.split('?')[0]!, source ?? '')
              res.writeHead(200, { 'content-type': 'application/xml' })
              return void res.end('<CopyObjectResult><ETag>"1"</ETag><LastModified>2026-12-04T00:00:00.000Z</LastModified></CopyObjectResult>')
            }
            if (req.method === 'PUT') {
              const chunked = /aws-chunked/.test(String(req.headers['content-encoding'] ?? ''))
              const stored = chunked ? decodeAwsChunked(body) : { data: body, trailer: {} }
              if (chunked && stored.data.length !== Number(req.headers['x-amz-decoded-content-length'])) {
                res.writeHead(400, { 'content-type': 'application/xml' })
                return void res.end('<Error><Code>IncompleteBody</Code></Error>')
              }
              objects.set(req.url!.split('?')[0]!, stored.data)
              trailers.push(stored.trailer)
              res.writeHead(200, { etag: '"1"' })
              return void res.end()
            }
            // An upstream that echoes what it was sent (an API Gateway Lambda returning its event, an error page).
            if (req.url!.startsWith('/echo/')) {
              res.writeHead(200, { 'content-type': 'application/json', 'x-echo-token': String(req.headers['x-amz-security-token']) })
              return void res.end(JSON.stringify(req.headers))
            }
            const stored = objects.get(req.url!.split('?')[0]!)
            res.writeHead(stored === undefined ? 404 : 200, { 'content-type': 'text/plain' })
            return void res.end(stored ?? '')
          }
          res.writeHead(200, { 'content-type': 'application/json' })
          res.end(JSON.stringify({ completion: `echo: ${JSON.parse(body).prompt}` }))
        })
      },
      { trust, host },
    )
  const s3 = await awsService('s3', 's3.us-east-1.amazonaws.com')
  t.teardown(() => s3.close())
  const bedrock = await awsService('bedrock', 'bedrock-runtime.us-east-1.amazonaws.com')
  t.teardown(() => bedrock.close())

  const dir = await mkdtemp(join(tmpdir(), 'sidekey-aws-'))
  const tokenFile = join(dir, 'aws-token')
  await writeFile(tokenFile, 'projected-token-for-sts.amazonaws.com\n')
  await writeFile(join(dir, 'wrong-token'), 'projected-token-for-another-audience\n')
  const sts127 = `https://127.0.0.1:${stsServer.port}/`
  const sk = await startTestSidekey(
    t,
    `version: v1
credentials:
  agent-role:
    type: aws-web-identity
    role_arn: arn:aws:iam::111122223333:role/agent
    token_file: ${tokenFile}
    sts_endpoint: ${sts127}
  chained:
    type: aws-web-identity
    role_arn: arn:aws:iam::111122223333:role/agent
    chain_role_arn: arn:aws:iam::444455556666:role/data-reader
    token_file: ${tokenFile}
    sts_endpoint: ${sts127}
  wrong-audience:
    type: aws-web-identity
    role_arn: arn:aws:iam::111122223333:role/agent
    token_file: ${join(dir, 'wrong-token')}
    sts_endpoint: ${sts127}
  short:
    type: aws-web-identity
    role_arn: arn:aws:iam::111122223333:role/short-lived
    token_file: ${tokenFile}
    sts_endpoint: ${sts127}
routes:
  - { name: s3-large, host: s3.us-east-1.amazonaws.com, paths: [/large-uploads/**], credential: agent-role, inject: { sigv4: { unsigned_payload: true } }, addresses: [127.0.0.1] }
  - { name: s3-copies, host: s3.us-east-1.amazonaws.com, paths: [/copies/**], credential: agent-role, inject: { sigv4: { allow: [x-amz-copy-source] } }, addresses: [127.0.0.1] }
  - { name: s3, host: s3.us-east-1.amazonaws.com, credential: agent-role, addresses: [127.0.0.1] }
  - { name: bedrock, host: bedrock-runtime.us-east-1.amazonaws.com, paths: [/model/okmodel/*], credential: agent-role, addresses: [127.0.0.1] }
  - { name: bedrock-chained, host: bedrock-runtime.us-east-1.amazonaws.com, paths: [/model/chainedmodel/*], credential: chained, addresses: [127.0.0.1] }
  - { name: bedrock-wrong, host: bedrock-runtime.us-east-1.amazonaws.com, paths: [/model/wrongmodel/*], credential: wrong-audience, addresses: [127.0.0.1] }
  - { name: bedrock-short, host: bedrock-runtime.us-east-1.amazonaws.com, paths: [/model/shortmodel/*], credential: short, addresses: [127.0.0.1] }
`,
    {
      dir,
      upstreamCaFile: trust.caFile,
      connectTo: { 's3.us-east-1.amazonaws.com:443': { host: '127.0.0.1', port: s3.port }, 'bedrock-runtime.us-east-1.amazonaws.com:443': { host: '127.0.0.1', port: bedrock.port } },
    },
  )
  // The agent: AWS SDK v3 clients with placeholder keys, through sidekey (HTTPS proxy, sidekey's CA trusted).
  const caPem = await readFile(sk.ca.certPath, 'utf8')
  // https-proxy-agent takes the target's TLS options from each request; the agent trusts sidekey's CA there.
  class TrustingProxyAgent extends HttpsProxyAgent<string> {
    override connect(req: Parameters<HttpsProxyAgent<string>['connect']>[0], opts: Parameters<HttpsProxyAgent<string>['connect']>[1]) {
      return super.connect(req, { ...opts, ca: [caPem] } as typeof opts)
    }
  }
  const requestHandler = new NodeHttpHandler({ httpsAgent: new TrustingProxyAgent(sk.proxyUrlFor('agent')) })
  const placeholder = { accessKeyId: 'AKIAPLACEHOLDER00000', secretAccessKey: 'placeholder-secret-the-agent-holds' }
  const s3Client = new S3Client({ region: 'us-east-1', credentials: placeholder, forcePathStyle: true, requestHandler, maxAttempts: 1 })
  const bedrockClient = new BedrockRuntimeClient({ region: 'us-east-1', credentials: placeholder, requestHandler, maxAttempts: 1 })
  t.teardown(() => {
    s3Client.destroy()
    bedrockClient.destroy()
  })
  const invoke = (model: string, prompt: string) => bedrockClient.send(new InvokeModelCommand({ modelId: model, contentType: 'application/json', accept: 'application/json', body: JSON.stringify({ prompt }) }))

  t.test('S3 PutObject and GetObject with placeholder keys: signed by sidekey with the role\'s keys', async (t) => {
    await s3Client.send(new PutObjectCommand({ Bucket: 'agent-bucket', Key: 'notes/today.txt', Body: 'hello from the agent' }))
    const got = await s3Client.send(new GetObjectCommand({ Bucket: 'agent-bucket', Key: 'notes/today.txt' }))
    t.equal(await got.Body!.transformToString(), 'hello from the agent')
    const s3Checks = verified.filter((v) => v.service === 's3')
    t.equal(s3Checks.length, 2)
    t.same(s3Checks.map((v) => v.problem), [null, null], 'both signatures verified with the real secret')
    t.ok(s3Checks.every((v) => v.accessKeyId.startsWith('ASIAWI')), 'signed with the STS keys, not the placeholder')
    t.equal(sts.calls.filter((c) => c.Action === 'AssumeRoleWithWebIdentity').length, 1, 'one STS call, then cached')
    const audit = await sk.sink.waitForAudit((a) => a.route === 's3' && a.method === 'PUT')
    t.match(audit, { credential: 'agent-role', credential_source: 'fetch', status: 200 })
  })

  t.test('a ranged GetObject: the headers sidekey changes for scrubbing are changed before it signs', async (t) => {
    // Found by a red-team run: sidekey signed the agent's Range (and Accept-Encoding), then the
    // response guard dropped Range and replaced Accept-Encoding, so AWS answered SignatureDoesNotMatch.
    const before = verified.length
    const got = await s3Client.send(new GetObjectCommand({ Bucket: 'agent-bucket', Key: 'notes/today.txt', Range: 'bytes=0-4' }))
    t.equal(await got.Body!.transformToString(), 'hello from the agent', 'a scrubbed route asks for the whole object (a secret split across ranges would pass)')
    t.same(verified.slice(before).map((v) => v.problem), [null], 'the signature verified')
  })

  t.test('Bedrock InvokeModel: the JSON body is hashed by sidekey (no x-amz-content-sha256 from the SDK)', async (t) => {
    const out = await invoke('okmodel', 'ping')
    t.same(JSON.parse(Buffer.from(out.body).toString()), { completion: 'echo: ping' })
    t.equal(verified.at(-1)!.problem, null)
    t.equal(verified.at(-1)!.service, 'bedrock', 'signed as bedrock, the SDK\'s signing name for bedrock-runtime')
  })

  t.test('S3 PutObject with a streamed body: the SDK\'s aws-chunked upload with a checksum trailer is re-signed and arrives whole', async (t) => {
    const text = 'line of agent output\n'.repeat(2000)
    await s3Client.send(new PutObjectCommand({ Bucket: 'agent-bucket', Key: 'notes/streamed.txt', Body: Readable.from([Buffer.from(text.slice(0, 10_000)), Buffer.from(text.slice(10_000))]), ContentLength: text.length }))
    const seen = s3.seen.at(-1)!
    t.match(String(seen.headers['x-amz-content-sha256']), /^(STREAMING-UNSIGNED-PAYLOAD-TRAILER|UNSIGNED-PAYLOAD)$/, 'the SDK chose a streaming payload mode')
    t.equal(verified.at(-1)!.problem, null, 'sidekey\'s signature verifies with the real secret')
    t.ok(verified.at(-1)!.accessKeyId.startsWith('ASIAWI'))
    const got = await s3Client.send(new GetObjectCommand({ Bucket: 'agent-bucket', Key: 'notes/streamed.txt' }))
    t.equal(await got.Body!.transformToString(), text, 'the object is what the agent streamed')
    if (seen.headers['x-amz-content-sha256'] === 'STREAMING-UNSIGNED-PAYLOAD-TRAILER') t.match(trailers.at(-1), { 'x-amz-checksum-crc32': /^[A-Za-z0-9+/=]+$/ }, 'the checksum trailer came through')
  })

  t.test('on an unsigned_payload route, the SDK\'s streamed upload keeps its STREAMING-* mode', async (t) => {
    // Found in review of a red-team run: the route stripped the SDK's x-amz-content-sha256 before
    // the signer read it, so an aws-chunked body was signed as UNSIGNED-PAYLOAD, which S3 refuses.
    const text = 'large agent output\n'.repeat(2000)
    await s3Client.send(new PutObjectCommand({ Bucket: 'large-uploads', Key: 'streamed.txt', Body: Readable.from([Buffer.from(text.slice(0, 10_000)), Buffer.from(text.slice(10_000))]), ContentLength: text.length }))
    const seen = s3.seen.at(-1)!
    t.equal(seen.url.split('?')[0], '/large-uploads/streamed.txt', 'on the unsigned_payload route')
    t.equal(verified.at(-1)!.problem, null, 'the signature verifies')
    if (/aws-chunked/.test(String(seen.headers['content-encoding'] ?? ''))) t.equal(seen.headers['x-amz-content-sha256'], 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'the mode the SDK chose')
    const got = await s3Client.send(new GetObjectCommand({ Bucket: 'large-uploads', Key: 'streamed.txt' }))
    t.equal(await got.Body!.transformToString(), text)
  })

  t.test('a chunk-signed upload (STREAMING-AWS4-HMAC-SHA256-PAYLOAD, as the Java SDK v1 sends): every chunk signed again', async (t) => {
    // The agent signs headers and chunks with its placeholder key, as an SDK would.
    const content = Buffer.alloc(200 * 1024, 'z')
    const chunks = [content.subarray(0, 64 * 1024), content.subarray(64 * 1024, 128 * 1024), content.subarray(128 * 1024)]
    const zeros = '0'.repeat(64)
    const framed = Buffer.concat([...chunks.flatMap((c) => [Buffer.from(`${c.length.toString(16)};chunk-signature=${zeros}\r\n`), c, Buffer.from('\r\n')]), Buffer.from(`0;chunk-signature=${zeros}\r\n\r\n`)])
    const url = new URL('https://s3.us-east-1.amazonaws.com/agent-bucket/notes/chunked.bin')
    const headers: Record<string, string> = { host: url.host, 'content-encoding': 'aws-chunked', 'content-length': String(framed.length), 'x-amz-decoded-content-length': String(content.length), 'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' }
    const agentSigned = await signAws({ method: 'PUT', url, headers, body: null, payloadHash: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' }, placeholder, { service: 's3', region: 'us-east-1' })
    const amzDate = agentSigned['x-amz-date']!
    const agentSeed = /Signature=([0-9a-f]{64})/.exec(agentSigned.authorization!)![1]!
    const agentBody = resignBuffer({ signingKey: signingKey(placeholder.secretAccessKey, amzDate.slice(0, 8), 'us-east-1', 's3'), amzDate, scope: `${amzDate.slice(0, 8)}/us-east-1/s3/aws4_request`, seedSignature: agentSeed, trailer: false }, framed)
    const agentFirstChunkSignature = /chunk-signature=([0-9a-f]{64})/.exec(agentBody.subarray(0, 100).toString('latin1'))![1]!
    const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor('agent'), requestTls: { ca: caPem } })
    t.teardown(() => dispatcher.close())
    // Sent in odd-sized pieces, so chunk boundaries fall anywhere in what sidekey reads.
    async function* pieces() {
      for (let at = 0; at < agentBody.length; at += 7777) yield agentBody.subarray(at, at + 7777)
    }
    const res = await request(url, { dispatcher, method: 'PUT', headers: { ...withoutHost(headers), ...agentSigned }, body: Readable.from(pieces()) })
    const answer = await res.body.text()
    t.equal(res.statusCode, 200, answer)
    t.equal(verified.at(-1)!.problem, null, 'the seed and every chunk signature verify with the real secret')
    t.equal(s3.seen.at(-1)!.body.length, agentBody.length, 'same length on the wire: Content-Length stays true')
    t.notOk(s3.seen.at(-1)!.body.includes(agentFirstChunkSignature), 'none of the agent\'s chunk signatures reach AWS')
    const got = await s3Client.send(new GetObjectCommand({ Bucket: 'agent-bucket', Key: 'notes/chunked.bin' }))
    t.equal(await got.Body!.transformToString(), content.toString(), 'the object is what the agent uploaded')
  })

  t.test('a chunk-signed upload with broken framing: 400 naming it, nothing reaches AWS', async (t) => {
    const before = verified.length
    const url = new URL('https://s3.us-east-1.amazonaws.com/agent-bucket/notes/broken.bin')
    const broken = Buffer.from(`5;chunk-signature=${'0'.repeat(64)}\r\nhelloXX`)
    const headers: Record<string, string> = { host: url.host, 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': '5', 'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' }
    const agentSigned = await signAws({ method: 'PUT', url, headers, body: null, payloadHash: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' }, placeholder, { service: 's3', region: 'us-east-1' })
    const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor('agent'), requestTls: { ca: caPem } })
    t.teardown(() => dispatcher.close())
    const res = await request(url, { dispatcher, method: 'PUT', headers: { ...withoutHost(headers), ...agentSigned }, body: broken })
    const text = await res.body.text()
    t.equal(res.statusCode, 400)
    t.equal(res.headers['x-sidekey-error'], 'SIDEKEY_ERR_BAD_REQUEST')
    t.match(text, /chunk-signed \(aws-chunked\) upload is malformed: a chunk does not end with CRLF/)
    t.equal(verified.filter((v, i) => i >= before && v.problem === null).length, 0, 'no accepted upload')
  })

  t.test('UNSIGNED-PAYLOAD for a large streamed upload: signed without buffering the body', async (t) => {
    const size = 3 * 1024 * 1024
    const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor('agent'), requestTls: { ca: caPem } })
    t.teardown(() => dispatcher.close())
    async function* chunks() {
      for (let sent = 0; sent < size; sent += 64 * 1024) yield Buffer.alloc(64 * 1024, 0x61)
    }
    const res = await request('https://s3.us-east-1.amazonaws.com/large-uploads/big.bin', { dispatcher, method: 'PUT', body: Readable.from(chunks()) })
    await res.body.dump()
    t.equal(res.statusCode, 200)
    t.equal(verified.at(-1)!.problem, null, 'the signature verifies with UNSIGNED-PAYLOAD')
    t.equal(s3.seen.at(-1)!.headers['x-amz-content-sha256'], 'UNSIGNED-PAYLOAD')
    t.equal(s3.seen.at(-1)!.body.length, size, 'all 3 MiB arrived (more than sidekey ever buffers)')
  })

  t.test('role chaining: AssumeRole signed with the web identity keys, requests signed with the chained ones', async (t) => {
    await invoke('chainedmodel', 'chained')
    t.equal(verified.at(-1)!.problem, null)
    t.ok(verified.at(-1)!.accessKeyId.startsWith('ASIACH'), 'the chained role\'s keys')
    t.ok(sts.calls.some((c) => c.Action === 'AssumeRole' && c.RoleArn === 'arn:aws:iam::444455556666:role/data-reader'))
  })

  t.test('wrong audience: STS refuses the token; 502 naming InvalidIdentityToken, nothing sent', async (t) => {
    const before = verified.length
    const status = await invoke('wrongmodel', 'x').then(() => 200, (err: { $metadata?: { httpStatusCode?: number } }) => err.$metadata?.httpStatusCode)
    t.equal(status, 502, 'the SDK sees sidekey\'s 502')
    t.equal(verified.length, before, 'nothing reached the service')
    const audit = await sk.sink.waitForAudit((a) => a.route === 'bedrock-wrong')
    t.equal(audit.error, 'SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE')
    t.ok(sk.sink.lines.some((l) => typeof l.msg === 'string' && /InvalidIdentityToken/.test(JSON.stringify(l))), 'the reason is logged')
  })

  t.test('expiry, refresh, STS down (cached keys until expiry, then 502), malformed answers', async (t) => {
    sts.lifetimeS = 2
    await invoke('shortmodel', 'one')
    const first = verified.at(-1)!.accessKeyId
    sts.mode = 'down'
    await invoke('shortmodel', 'two')
    t.equal(verified.at(-1)!.accessKeyId, first, 'STS down: the cached keys still sign while valid')
    // The cache backs off (jittered, doubling) after each failure and answers with the last error
    // meanwhile, so poll until the answer changes instead of guessing how long the backoff is.
    const refused = await pollFor(() => rawInvoke(sk, 'shortmodel'), (r) => r.status === 502, 15_000, 150)
    t.equal(refused.status, 502, 'expired and STS unreachable: fail closed')
    t.equal(refused.error, 'SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE')
    t.match(refused.text, /STS AssumeRoleWithWebIdentity is unreachable|did not answer/)
    sts.mode = 'malformed'
    const malformed = await pollFor(() => rawInvoke(sk, 'shortmodel'), (r) => /without complete Credentials/.test(r.text), 15_000, 150)
    t.equal(malformed.status, 502)
    t.match(malformed.text, /without complete Credentials/)
    t.equal(malformed.error, 'SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE')
    sts.mode = 'ok'
    const back = await pollFor(() => rawInvoke(sk, 'shortmodel'), (r) => r.status === 200, 15_000, 150)
    t.equal(back.status, 200, 'STS back: sidekey recovers without a restart')
    await invoke('shortmodel', 'three')
    t.not(verified.at(-1)!.accessKeyId, first, 'STS back: new keys fetched and used')
    sts.lifetimeS = 3600
  })

  t.test('the session token sidekey sends is a managed secret too: masked in an echo, refused outbound', async (t) => {
    // Found by a red-team run: only the secret access key was taught to the scanner, so an upstream
    // echoing X-Amz-Security-Token handed the agent the role's session token, and the agent could
    // then send it anywhere.
    const caPemHere = await readFile(sk.ca.certPath, 'utf8')
    const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor('agent'), requestTls: { ca: caPemHere } })
    t.teardown(() => dispatcher.close())
    const echo = await request('https://s3.us-east-1.amazonaws.com/echo/headers', { dispatcher, headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } })
    const text = await echo.body.text()
    t.equal(echo.statusCode, 200)
    const sent = s3.seen.at(-1)!.headers['x-amz-security-token'] as string
    t.ok(keys.some((k) => k.sessionToken === sent), 'the real session token went upstream')
    t.notMatch(text, sent, 'not in the echoed body')
    t.notMatch(String(echo.headers['x-echo-token']), sent, 'not in the echoed header')
    t.match(text, /x-amz-security-token/)
    // An agent that learned it anyway cannot send it out (another workload: this one is quarantined).
    const exfil = new ProxyAgent({ uri: sk.proxyUrlFor('exfiltrator'), requestTls: { ca: caPemHere } })
    t.teardown(() => exfil.close())
    const out = await request('https://s3.us-east-1.amazonaws.com/agent-bucket/leak.txt', { dispatcher: exfil, method: 'PUT', body: `token=${sent}` })
    await out.body.dump()
    t.equal(out.statusCode, 403)
    t.equal(out.headers['x-sidekey-error'], 'SIDEKEY_ERR_SECRET_DETECTED')
  })

  t.test('S3 headers that act on another object, or on who may read one, are refused unless the route allows them', async (t) => {
    // Found by a red-team run: a route's paths said which objects the agent may reach, but a PUT to
    // an allowed key with x-amz-copy-source copied any object the role can read into it, and
    // x-amz-acl: public-read put an object where anyone reads it past sidekey.
    const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor('copier'), requestTls: { ca: caPem } })
    t.teardown(() => dispatcher.close())
    const before = s3.seen.length
    for (const [name, value] of [['x-amz-copy-source', '/payroll/salaries.csv'], ['X-Amz-Copy-Source-Range', 'bytes=0-9'], ['x-amz-acl', 'public-read'], ['x-amz-grant-read', 'uri="http://acs.amazonaws.com/groups/global/AllUsers"'], ['x-amz-website-redirect-location', 'https://evil.example/']] as const) {
      const res = await request('https://s3.us-east-1.amazonaws.com/agent-bucket/notes/copy.txt', { dispatcher, method: 'PUT', headers: { [name]: value, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }, body: '' })
      const answer = (await res.body.json()) as { message: string }
      t.equal(res.statusCode, 403, name)
      t.equal(res.headers['x-sidekey-error'], 'SIDEKEY_ERR_AWS_REACH_REFUSED')
      t.match(answer.message, `${name.toLowerCase()} makes AWS act on another object`)
      t.match(answer.message, `route "s3" does not allow it: send the request without it, or ask for ${name.toLowerCase()} in the route's inject.sigv4.allow`)
    }
    // The same reach by a subresource written: PutObjectAcl (a body granting everyone read), a bucket policy, the public access block lifted.
    for (const [method, path] of [['PUT', '/agent-bucket/notes/copy.txt?acl'], ['PUT', '/agent-bucket?policy'], ['DELETE', '/agent-bucket?publicAccessBlock'], ['PUT', '/agent-bucket?%61cl'], ['PUT', '/agent-bucket?replication=']] as const) {
      const res = await request(`https://s3.us-east-1.amazonaws.com${path}`, { dispatcher, method, headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }, body: method === 'PUT' ? '<AccessControlPolicy/>' : undefined })
      const answer = (await res.body.json()) as { message: string }
      t.equal(res.statusCode, 403, `${method} ${path}`)
      t.equal(res.headers['x-sidekey-error'], 'SIDEKEY_ERR_AWS_REACH_REFUSED')
      t.match(answer.message, /changes who may read the bucket or object, or where its objects go, and route "s3" does not allow it/)
    }
    t.equal(s3.seen.length, before, 'none reached S3')
    // Reading them is not writing them.
    const readAcl = await request('https://s3.us-east-1.amazonaws.com/agent-bucket/notes/today.txt?acl', { dispatcher, headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } })
    await readAcl.body.dump()
    t.equal(readAcl.headers['x-sidekey-error'], undefined, 'GET ?acl goes on')
    t.equal(s3.seen.length, before + 1)
    const audit = await sk.sink.waitForAudit((a) => a.workload === 'copier' && a.error === 'SIDEKEY_ERR_AWS_REACH_REFUSED')
    t.match(audit, { status: 403, route: 's3', credential: null })
    // A route that names it lets it through, signed: the agent's own SDK copying within its prefix.
    await s3Client.send(new CopyObjectCommand({ Bucket: 'copies', Key: 'today.txt', CopySource: 'copies/yesterday.txt' }))
    t.equal(verified.at(-1)!.problem, null, 'signed with the real keys')
    t.equal(s3.seen.at(-1)!.headers['x-amz-copy-source'], 'copies/yesterday.txt')
  })

  t.test('no AWS key, session token or web identity token in any log line', async (t) => {
    const log = sk.sink.raw.join('\n')
    for (const k of keys) {
      t.notOk(log.includes(k.secretAccessKey), 'no secret access key')
      t.notOk(log.includes(k.sessionToken), 'no session token')
    }
    t.notOk(log.includes('projected-token-for-sts'), 'no web identity token')
  })

  noSecretsLogged(t, sk)
})

/**
 * Decode an `aws-chunked` body as S3 reads it: `hex-size[;chunk-signature=...]\r\n data \r\n`
 * chunks, a zero-size chunk, then trailing headers (AWS S3 "Signature Version 4: streaming uploads").
 */
function decodeAwsChunked(raw: string): { data: string; trailer: Record<string, string> } {
  let data = ''
  let at = 0
  for (;;) {
    const eol = raw.indexOf('\r\n', at)
    if (eol < 0) throw new Error('truncated aws-chunked body')
    const size = parseInt(raw.slice(at, eol).split(';')[0]!, 16)
    at = eol + 2
    if (size === 0) break
    data += raw.slice(at, at + size)
    at += size + 2
  }
  const trailer: Record<string, string> = {}
  for (const line of raw.slice(at).split('\r\n')) {
    const colon = line.indexOf(':')
    if (colon > 0) trailer[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim()
  }
  return { data, trailer }
}

/** Headers as a client sends them: undici writes Host itself. */
function withoutHost(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => name !== 'host'))
}

/** A request whose refusal is read as sidekey wrote it (the SDK would turn it into an exception). */
async function rawInvoke(sk: TestSidekey, model: string): Promise<{ status: number; error: string | undefined; text: string }> {
  const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor('agent'), requestTls: { ca: await readFile(sk.ca.certPath, 'utf8') } })
  try {
    const res = await request(`https://bedrock-runtime.us-east-1.amazonaws.com/model/${model}/invoke`, { dispatcher, method: 'POST', body: '{"prompt":"x"}', headers: { authorization: 'AWS4-HMAC-SHA256 Credential=AKIAPLACEHOLDER00000/20260101/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=00' } })
    return { status: res.statusCode, error: res.headers['x-sidekey-error'] as string | undefined, text: await res.body.text() }
  } finally {
    await dispatcher.close()
  }
}

t.test('policy refuses AWS keys outside SigV4, and SigV4 without AWS keys', async (t) => {
  const base = 'version: v1\ncredentials:\n  role: { type: aws-web-identity, role_arn: "arn:aws:iam::111122223333:role/a", token_file: /t }\n  key: { type: static, env: X }\nroutes:\n'
  t.throws(() => compilePolicy([{ file: 'p.yaml', text: `${base}  - { name: a, host: s3.amazonaws.com, credential: role, inject: { header: x-key } }\n` }]), { name: 'PolicyInvalidError', message: /holds AWS keys: it is applied by signing/ })
  t.throws(() => compilePolicy([{ file: 'p.yaml', text: `${base}  - { name: a, host: s3.amazonaws.com, credential: key, inject: { sigv4: {} } }\n` }]), { name: 'PolicyInvalidError', message: /sigv4 needs an aws-web-identity credential/ })
  t.throws(() => compilePolicy([{ file: 'p.yaml', text: 'version: v1\ncredentials:\n  role: { type: aws-web-identity, role_arn: "not-an-arn", token_file: /t }\n' }]), { name: 'PolicyInvalidError', message: /role_arn/ })
  t.doesNotThrow(() => compilePolicy([{ file: 'p.yaml', text: `${base}  - { name: a, host: s3.amazonaws.com, credential: role }\n` }]), 'an AWS credential signs by default')
  t.throws(() => compilePolicy([{ file: 'p.yaml', text: `${base}  - { name: a, host: s3.amazonaws.com, credential: role, inject: { sigv4: { allow: [x-amz-meta-note, "?tagging"] } } }\n` }]), { name: 'PolicyInvalidError', message: /"x-amz-meta-note" is not something sidekey refuses on SigV4 routes[^]*"\?tagging" is not something/ })
  const allowing = compilePolicy([{ file: 'p.yaml', text: `${base}  - { name: a, host: s3.amazonaws.com, credential: role, inject: { sigv4: { allow: [X-Amz-Copy-Source, x-amz-grant-read, "?acl"] } } }\n` }])
  t.match(allowing.routes[0]!.injection, { kind: 'sigv4', allow: ['x-amz-copy-source', 'x-amz-grant-read', '?acl'] }, 'header names read in lower case')
})
