import t from 'tap';
import { slackMessage } from '../../src/observe/slack.js';
// Webhooks set with `format: slack` get `{"text": ...}`. Agent-controlled text is escaped as Slack
// asks, so it cannot become a link or a mention, and its control characters are made visible.
const approval = {
    id: '0b4d7a52-9c1e-4f7e-8d2a-1f0e6c3b5a91',
    workload: 'agent',
    route: 'refunds',
    method: 'POST',
    host: 'pay.example',
    port: 443,
    path: '/refund/<!channel>&<http://evil.example|click>',
    why: 'approval.when body.amount > 100',
    body_bytes: 14,
    expires: '2026-12-02T10:00:00.000Z',
    mode: 'async',
};
const cases = [
    {
        name: 'an approval request names who, what, why and how to decide',
        event: { type: 'approval_requested', approval },
        has: [/workload \*agent\* asks to send `POST pay\.example\/refund/, /route `refunds`/, /Why: approval\.when body\.amount &gt; 100/, /sidekey approvals approve 0b4d7a52-9c1e-4f7e-8d2a-1f0e6c3b5a91/, /told to send it again/],
        hasNot: [/<!channel>/, /<http:/],
    },
    {
        name: 'a held request says it is held; a port other than 80 and 443 is shown',
        event: { type: 'approval_requested', approval: { ...approval, mode: undefined, port: 8443, path: '/x' } },
        has: [/`POST pay\.example:8443\/x`/, /held until then/],
        hasNot: [/told to send it again/],
    },
    {
        name: 'an IPv6 destination is bracketed, with and without a port',
        event: { type: 'approval_requested', approval: { ...approval, host: '2001:db8::7', port: 8443, path: '/x' } },
        has: [/`POST \[2001:db8::7\]:8443\/x`/],
        hasNot: [/2001:db8::7:8443/],
    },
    {
        name: 'control and bidirectional characters are shown escaped',
        event: { type: 'approval_requested', approval: { ...approval, path: '/a\u202eb\nc' } },
        has: [/\/a\\u\{202e\}b\\u\{000a\}c/],
        hasNot: [/\u202e/, /\/a\u202e/],
    },
    {
        name: 'a security event lists its fields',
        event: { event: 'security_event', type: 'quarantine', workload: 'agent', reason: 'rate <spike>', by: 'anomaly:rate' },
        has: [/^:rotating_light: sidekey quarantine\n/, /workload: agent/, /reason: rate &lt;spike&gt;/, /by: anomaly:rate/],
        hasNot: [/<spike>/, /event: security_event/],
    },
];
for (const c of cases) {
    t.test(c.name, async (t) => {
        const message = slackMessage(c.event);
        t.same(Object.keys(message), ['text']);
        for (const re of c.has)
            t.match(message.text, re);
        for (const re of c.hasNot)
            t.notMatch(message.text, re);
    });
}
//# sourceMappingURL=slack-message.test.js.map