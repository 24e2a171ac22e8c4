/**
 * The web console: one static page, served by the admin listener, with no build step and no
 * dependency. It holds no data itself: it asks for the admin token (or takes it from the URL
 * fragment `#token=...`, which browsers never send to a server), keeps it in sessionStorage, and
 * calls the admin API with it. Live updates arrive as server-sent events read through fetch (so
 * the token travels in a header, not a URL).
 *
 * Everything the agent controls (paths, queries, headers, bodies, workload names) is written with
 * textContent, never as HTML, after `visible` made control and bidirectional characters visible;
 * the page's Content-Security-Policy allows no other origin. A pending approval shows the whole
 * request but its credentials, never cut or scrolled out of sight (docs/security.md). The approver
 * signs in with a name as well as the token, and each decision records that name.
 */
import type { ServerResponse } from 'node:http'
import { OUTCOMES } from '../observe/outcome.js'
import { CONSOLE_SCRIPT } from './console-script.js'
import { CONSOLE_STYLE } from './console-style.js'
import type { AdminRoute } from './route-table.js'

/** The page, at both spellings of its path. It holds no data, so it is public; everything it shows needs the token. */
export const CONSOLE_ROUTES: readonly AdminRoute<unknown>[] = ['/console', '/console/'].map((path): AdminRoute<unknown> => ({ method: 'GET', path, access: 'public', handle: (_, { res }) => serveConsole(res) }))

function serveConsole(res: ServerResponse): void {
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    'x-frame-options': 'DENY',
    // A page that opened the console (a link the agent got a person to click) keeps no handle on
    // its window, so it cannot bring it back in front under the pointer later.
    'cross-origin-opener-policy': 'same-origin',
    'referrer-policy': 'no-referrer',
  })
  res.end(CONSOLE_HTML)
}

const CONSOLE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>sidekey console</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>${CONSOLE_STYLE}</style>
</head>
<body>
<h1>sidekey console<span id="who" class="muted"></span> <span id="status" class="muted">connecting...</span></h1>
<form id="login" hidden>
  <div id="token-field"><label>Admin token (from certs/admin.token):<br><input id="token" type="password" autocomplete="off"></label></div>
  <div><label>Your name (recorded with each approval or denial):<br><input id="name" autocomplete="name" maxlength="64"></label></div>
  <button type="submit">Open</button>
</form>
<main id="main" hidden>
  <p><button id="sign-out" type="button">Sign out</button></p>
  <h2>Pending approvals</h2>
  <table id="pending-table"><thead><tr><th>Requested</th><th>Workload</th><th>Request</th><th>Why</th><th>Body</th><th>Expires</th><th>Decide</th></tr></thead>
  <tbody id="pending"></tbody></table>
  <h2>Last hour</h2>
  <div class="legend muted"><span>bars: requests per minute</span><span>red: refused or failed</span><span>line: p95 latency</span></div>
  <h3>Per workload</h3><div id="activity-workloads" class="charts"></div>
  <h3>Per route</h3><div id="activity-routes" class="charts"></div>
  <h2>Recent requests</h2>
  <div id="filters">
    <label>Workload <select id="f-workload"><option value="">all</option></select></label>
    <label>Route <select id="f-route"><option value="">all</option></select></label>
    <label>Outcome <select id="f-outcome"><option value="">all</option>${OUTCOMES.map((o) => `<option value="${o}">${o}</option>`).join('')}</select></label>
  </div>
  <table id="decisions-table"><colgroup><col class="c-time"><col class="c-who"><col><col class="c-route"><col class="c-outcome"><col class="c-status"></colgroup>
  <thead><tr><th>Time</th><th>Workload</th><th>Request</th><th>Route</th><th>Outcome</th><th>Status</th></tr></thead>
  <tbody id="decisions"></tbody></table>
  <h2>Approvals decided</h2>
  <table><thead><tr><th>Decided</th><th>Workload</th><th>Request</th><th>Result</th><th>By</th></tr></thead>
  <tbody id="settled"></tbody></table>
  <h2>Workloads</h2>
  <table><thead><tr><th>Workload</th><th>State</th><th>Requests</th><th>Destinations</th><th></th></tr></thead>
  <tbody id="workloads"></tbody></table>
  <h2>Delegated accounts</h2>
  <p class="muted">Accounts people connected for agents to use through sidekey (OAuth authorization code with PKCE). sidekey keeps the tokens; they are never shown.</p>
  <table><thead><tr><th>Credential</th><th>Provider</th><th>State</th><th>Scopes</th><th>Connected</th><th>Last used</th><th>Token expires</th><th></th></tr></thead>
  <tbody id="grants"></tbody></table>
  <h2>Routes</h2>
  <table><thead><tr><th>Route</th><th>Matches</th><th>Action</th><th>Credential</th><th>Guards</th></tr></thead>
  <tbody id="routes"></tbody></table>
</main>
<dialog id="deny-dialog">
  <form method="dialog">
    <p>Deny <code id="deny-what"></code>?</p>
    <label>Note for the agent (optional):<br><textarea id="deny-note" rows="3" maxlength="200"></textarea></label>
    <p><button value="deny" class="deny" id="deny-confirm">Deny request</button> <button value="cancel" id="deny-cancel">Cancel</button></p>
  </form>
</dialog>
<dialog id="connect-dialog">
  <form method="dialog">
    <p>Connect <code id="connect-what"></code> at <code id="connect-provider"></code>?</p>
    <p>sidekey will ask for these scopes:</p>
    <ul id="connect-scopes"></ul>
    <p class="muted">You sign in at the provider and are sent back here; sidekey keeps the tokens.</p>
    <p><button value="connect" class="ok" id="connect-continue">Continue to the provider</button> <button value="cancel" id="connect-cancel">Cancel</button></p>
  </form>
</dialog>
<script>${CONSOLE_SCRIPT}</script>
</body>
</html>
`
