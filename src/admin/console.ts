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
 * request but its credentials, never cut or scrolled out of sight (docs/security.md).
 */
import type { ServerResponse } from 'node:http'
import { visible } from '../approvals/visible.js'
import type { AdminRoute } from './route-table.js'

/** The page, at both spellings of its path. It holds no data, so it is public; everything it shows needs the token. */
export const CONSOLE_ROUTES: readonly AdminRoute<unknown>[] = ['/console', '/console/'].map((path): AdminRoute<unknown> => ({ method: 'GET', path, access: 'public', handle: (_, { res }) => serveConsole(res) }))

function serveConsole(res: ServerResponse): void {
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    'x-frame-options': 'DENY',
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
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0 auto; max-width: 1200px; padding: 1em; color: #222; }
  h1 { font-size: 1.3em; margin: 0 0 .5em; } h2 { font-size: 1.05em; margin: 1.4em 0 .4em; }
  table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid #ddd; vertical-align: top; }
  th { background: #f4f4f4; font-weight: 600; } code, pre { font: 12px/1.3 ui-monospace, monospace; }
  pre { margin: 0; max-height: 8em; overflow: auto; white-space: pre-wrap; word-break: break-all; background: #fafafa; }
  button { margin: 1px; cursor: pointer; } .deny { color: #a00; } .ok { color: #070; } .muted { color: #777; }
  #status { float: right; font-size: .9em; } .empty { color: #777; font-style: italic; }
  #pending pre { max-height: none; margin-top: 3px; } #pending td { max-width: 40em; }
</style>
</head>
<body>
<h1>sidekey console <span id="status" class="muted">connecting...</span></h1>
<form id="login" hidden>
  <label>Admin token (from certs/admin.token): <input id="token" type="password" size="50" autocomplete="off"></label>
  <button type="submit">Open</button>
</form>
<main id="main" hidden>
  <h2>Pending approvals</h2>
  <table><thead><tr><th>Requested</th><th>Workload</th><th>Request</th><th>Why</th><th>Body</th><th>Expires</th><th>Decide</th></tr></thead>
  <tbody id="pending"></tbody></table>
  <h2>Recent decisions</h2>
  <table><thead><tr><th>Time</th><th>Workload</th><th>Request</th><th>Route</th><th>Decision</th><th>Status</th></tr></thead>
  <tbody id="decisions"></tbody></table>
  <h2>Approvals decided</h2>
  <table><thead><tr><th>Decided</th><th>Workload</th><th>Request</th><th>Result</th><th>By</th></tr></thead>
  <tbody id="settled"></tbody></table>
  <h2>Workloads</h2>
  <table><thead><tr><th>Workload</th><th>State</th><th>Requests</th><th>Destinations</th><th></th></tr></thead>
  <tbody id="workloads"></tbody></table>
  <h2>Routes</h2>
  <table><thead><tr><th>Route</th><th>Matches</th><th>Action</th><th>Credential</th><th>Guards</th></tr></thead>
  <tbody id="routes"></tbody></table>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem("sidekey-admin-token");
const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
if (fromHash) { token = fromHash; sessionStorage.setItem("sidekey-admin-token", token); history.replaceState(null, "", location.pathname); }
const approvals = new Map();
${visible.toString()}
const decisions = [];

function el(tag, text, cls) { const e = document.createElement(tag); if (text !== undefined && text !== null) e.textContent = String(text); if (cls) e.className = cls; return e; }
function row(cells) { const tr = document.createElement("tr"); for (const c of cells) { const td = document.createElement("td"); if (c instanceof Node) td.append(c); else td.textContent = c === null || c === undefined ? "" : String(c); tr.append(td); } return tr; }
function time(iso) { return iso ? new Date(iso).toLocaleTimeString() : ""; }
function target(a) { return a.method + " " + a.host + (a.port && a.port !== 443 && a.port !== 80 ? ":" + a.port : "") + visible(a.path || ""); }
function fill(tbody, rows, empty, span) { tbody.replaceChildren(...rows); if (rows.length === 0) { const tr = row([el("span", empty, "empty")]); tr.firstChild.colSpan = span; tbody.append(tr); } }

async function api(method, path, body) {
  const res = await fetch(path, { method, headers: { authorization: "Bearer " + token, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status === 401) { sessionStorage.removeItem("sidekey-admin-token"); showLogin("That admin token was refused."); throw new Error("unauthorized"); }
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error((data.error && data.error.message) || ("HTTP " + res.status));
  return data;
}

async function decide(id, verdict, grant) {
  try {
    await api("POST", "/v1/approvals/" + id + "/" + verdict, grant ? { for: grant, by: "console" } : { by: "console" });
    $("status").textContent = verdict === "approve" ? "approved " + id.slice(0, 8) : "denied " + id.slice(0, 8);
  } catch (e) { $("status").textContent = "failed: " + e.message; }
}

// The whole request as it goes upstream, credentials left out: every query parameter with its value, then the headers.
function request(a) {
  const cell = el("div");
  cell.append(el("code", visible(target(a))));
  const pairs = (list, sep) => (list || []).map(([k, v]) => visible(k) + sep + visible(v)).join("\\n");
  if ((a.query || []).length > 0) cell.append(el("div", "query:", "muted"), el("pre", pairs(a.query, " = "), "query"));
  if ((a.headers || []).length > 0) cell.append(el("div", "headers:", "muted"), el("pre", pairs(a.headers, ": "), "headers"));
  return cell;
}

// The whole body (base64 when it is not UTF-8), never cut.
function body(a) {
  if (a.body === null || a.body === undefined) return el("span", "(no body)", "muted");
  const cell = el("div");
  cell.append(el("div", a.body_bytes + " bytes" + (a.body_encoding === "base64" ? ", not UTF-8, shown as base64" : ""), "muted"), el("pre", visible(a.body, true), "body"));
  return cell;
}

function renderApprovals() {
  const all = [...approvals.values()].sort((a, b) => b.created.localeCompare(a.created));
  fill($("pending"), all.filter((a) => a.status === "pending").map((a) => {
    const buttons = el("span");
    const approve = el("button", "Approve", "ok"); approve.dataset.action = "approve"; approve.onclick = () => decide(a.id, "approve");
    const grant = el("select"); for (const [v, t] of [["", "once"], ["10m", "10 min"], ["1h", "1 hour"], ["1d", "1 day"]]) { const o = el("option", t); o.value = v; grant.append(o); }
    const approveFor = el("button", "Approve for"); approveFor.onclick = () => decide(a.id, "approve", grant.value || undefined);
    const deny = el("button", "Deny", "deny"); deny.dataset.action = "deny"; deny.onclick = () => decide(a.id, "deny");
    buttons.append(approve, " ", approveFor, grant, " ", deny);
    const tr = row([time(a.created), visible(a.workload || "anonymous"), request(a), visible(a.why), body(a), time(a.expires), buttons]);
    tr.dataset.approval = a.id;
    return tr;
  }), "Nothing waits for approval.", 7);
  fill($("settled"), all.filter((a) => a.status !== "pending").slice(0, 50).map((a) => row([time(a.decided_at), a.workload || "anonymous", el("code", target(a)), el("span", a.status + (a.grant_until ? " (granted until " + time(a.grant_until) + ")" : ""), a.status === "approved" ? "ok" : "deny"), a.decided_by])), "None yet.", 5);
}

function renderDecisions() {
  fill($("decisions"), decisions.slice(0, 100).map((d) => row([time(d.time), d.workload || "anonymous", el("code", (d.method || "") + " " + (d.host || "") + (d.path || "")), d.route, el("span", d.decision + " (" + d.reason + (d.condition ? ": " + d.condition : "") + ")", d.decision === "deny" || d.decision === "error" ? "deny" : "ok"), d.status])), "No requests yet.", 6);
}

async function loadWorkloads() {
  const { workloads } = await api("GET", "/v1/workloads");
  fill($("workloads"), workloads.map((w) => {
    const state = w.quarantined ? "QUARANTINED: " + w.quarantined.reason : w.throttled ? "throttled to " + w.throttled.rps + "/s" : w.learning ? "learning" : "normal";
    let action = "";
    if (w.quarantined || w.throttled) { action = el("button", "Release"); action.onclick = async () => { try { await api("POST", "/v1/workloads/" + encodeURIComponent(w.workload) + "/release", {}); await loadWorkloads(); } catch (e) { $("status").textContent = "failed: " + e.message; } }; }
    return row([w.workload, el("span", state, w.quarantined ? "deny" : ""), w.requests, w.destinations, action]);
  }), "No workload seen yet.", 5);
}

async function loadRoutes() {
  const { routes } = await api("GET", "/v1/routes");
  fill($("routes"), routes.map((r) => row([r.name, el("code", r.match.join(" ")), r.action, r.credential ? r.credential.name : "", (r.guards || []).join(", ")])), "No routes loaded.", 5);
}

async function stream() {
  for (;;) {
    try {
      const res = await fetch("/v1/events", { headers: { authorization: "Bearer " + token } });
      if (res.status === 401) { showLogin("That admin token was refused."); return; }
      $("status").textContent = "live";
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let cut;
        while ((cut = buffer.indexOf("\\n\\n")) >= 0) {
          const block = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
          const event = (/^event: (.*)$/m.exec(block) || [])[1];
          const data = (/^data: (.*)$/m.exec(block) || [])[1];
          if (!event || !data) continue;
          const item = JSON.parse(data);
          if (event === "approval") { approvals.set(item.id, item); renderApprovals(); }
          if (event === "decision") { decisions.unshift(item); decisions.length = Math.min(decisions.length, 200); renderDecisions(); }
        }
      }
    } catch (e) { /* reconnect below */ }
    $("status").textContent = "reconnecting...";
    await new Promise((r) => setTimeout(r, 2000));
  }
}

function showLogin(message) {
  $("main").hidden = true; $("login").hidden = false; $("status").textContent = message || "";
}

async function open() {
  $("login").hidden = true; $("main").hidden = false;
  try {
    const [{ approvals: list }, { decisions: recent }] = await Promise.all([api("GET", "/v1/approvals"), api("GET", "/v1/decisions")]);
    for (const a of list) approvals.set(a.id, a);
    decisions.push(...recent);
    renderApprovals(); renderDecisions();
    await Promise.all([loadWorkloads(), loadRoutes()]);
    setInterval(() => loadWorkloads().catch(() => {}), 5000);
    stream();
  } catch (e) { if (e.message !== "unauthorized") $("status").textContent = "failed: " + e.message; }
}

$("login").onsubmit = (e) => { e.preventDefault(); token = $("token").value.trim(); sessionStorage.setItem("sidekey-admin-token", token); open(); };
// A link with a new #token= on an open console is a new login.
addEventListener("hashchange", () => { if (location.hash.includes("token=")) location.reload(); });
if (token) open(); else showLogin("");
</script>
</body>
</html>
`
