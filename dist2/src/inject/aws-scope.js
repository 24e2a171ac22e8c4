/**
 * The signing service and region of a request: from the agent SDK's own Authorization header
 * (its credential scope names both; the SDK knows services whose signing name differs from the
 * host, like bedrock-runtime -> bedrock), else the route's, else read from the AWS host name.
 */
export function awsScope(agentAuthorization, host, configured) {
    const fromAgent = agentAuthorization === undefined ? null : /Credential=[^/,\s]+\/[0-9]{8}\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request/.exec(agentAuthorization);
    const fromHost = hostScope(host);
    const service = configured.service ?? fromAgent?.[2] ?? fromHost?.service ?? null;
    const region = configured.region ?? fromAgent?.[1] ?? fromHost?.region ?? null;
    return service === null || region === null ? null : { service, region };
}
/** Endpoint prefixes whose signing name differs. */
const SIGNING_NAMES = { 'bedrock-runtime': 'bedrock', 'bedrock-agent-runtime': 'bedrock', 'bedrock-agent': 'bedrock', 'runtime.sagemaker': 'sagemaker' };
function hostScope(host) {
    const h = host.toLowerCase();
    let m = /^(?:[a-z0-9.-]+\.)?s3[.-](?:dualstack\.)?([a-z0-9-]+)\.amazonaws\.com$/.exec(h);
    if (m !== null)
        return { service: 's3', region: m[1] };
    if (/^(?:[a-z0-9.-]+\.)?s3\.amazonaws\.com$/.test(h))
        return { service: 's3', region: 'us-east-1' };
    if (h === 'sts.amazonaws.com')
        return { service: 'sts', region: 'us-east-1' };
    m = /^([a-z0-9-]+(?:\.[a-z]+)?)\.([a-z]{2}(?:-gov)?-[a-z]+-[0-9])\.amazonaws\.com$/.exec(h);
    if (m !== null)
        return { service: SIGNING_NAMES[m[1]] ?? m[1], region: m[2] };
    return null;
}
//# sourceMappingURL=aws-scope.js.map