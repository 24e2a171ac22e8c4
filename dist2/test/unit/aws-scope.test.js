import t from 'tap';
import { awsScope } from '../../src/inject/aws-scope.js';
// Which AWS service and region a forwarded request is signed for: the route's setting first, then
// the credential scope the agent's SDK signed with, then what the host name says.
const AGENT = 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/eu-central-1/bedrock/aws4_request, SignedHeaders=host;x-amz-date, Signature=00';
const NONE = { service: null, region: null };
const cases = [
    ['the agent SDK\'s credential scope', AGENT, 'bedrock-runtime.us-east-1.amazonaws.com', NONE, { service: 'bedrock', region: 'eu-central-1' }],
    ['the route overrides the agent', AGENT, 'example.test', { service: 'execute-api', region: 'us-west-2' }, { service: 'execute-api', region: 'us-west-2' }],
    ['the route sets one, the host gives the other', undefined, 'sqs.ap-south-1.amazonaws.com', { service: null, region: 'eu-west-1' }, { service: 'sqs', region: 'eu-west-1' }],
    ['a regional service host', undefined, 'dynamodb.eu-west-1.amazonaws.com', NONE, { service: 'dynamodb', region: 'eu-west-1' }],
    ['a host whose signing name differs', undefined, 'bedrock-runtime.us-east-1.amazonaws.com', NONE, { service: 'bedrock', region: 'us-east-1' }],
    ['S3 virtual-hosted, regional', undefined, 'bucket.s3.eu-west-2.amazonaws.com', NONE, { service: 's3', region: 'eu-west-2' }],
    ['S3 dual-stack', undefined, 's3.dualstack.us-west-1.amazonaws.com', NONE, { service: 's3', region: 'us-west-1' }],
    ['S3 global', undefined, 'bucket.s3.amazonaws.com', NONE, { service: 's3', region: 'us-east-1' }],
    ['STS global', undefined, 'STS.amazonaws.com', NONE, { service: 'sts', region: 'us-east-1' }],
    ['GovCloud region', undefined, 'ec2.us-gov-west-1.amazonaws.com', NONE, { service: 'ec2', region: 'us-gov-west-1' }],
    ['not an AWS host, nothing configured', undefined, 'api.example.test', NONE, null],
    ['an Authorization that is not SigV4', 'Bearer x', 'api.example.test', NONE, null],
];
for (const [name, authorization, host, configured, expected] of cases) {
    t.test(name, async (t) => {
        t.same(awsScope(authorization, host, configured), expected);
    });
}
//# sourceMappingURL=aws-scope.test.js.map