import { visible } from '../approvals/visible.js';
import { APPROVER_NAME } from './approvals-api.js';
/**
 * The console's script (plain browser JavaScript, no build step). Everything the agent controls is
 * written with textContent after `visible` (embedded below) made control and bidirectional
 * characters visible. The approver signs in with the admin token and a name; the name is what
 * each decision records as `decided_by`.
 */
export const CONSOLE_SCRIPT = String.raw `
"use strict";
const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem("sidekey-admin-token");
let approver = sessionStorage.getItem("sidekey-approver");
const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
if (fromHash) { token = fromHash; sessionStorage.setItem("sidekey-admin-token", token); history.replaceState(null, "", location.pathname); }
const approvals = new Map();
const decisions = [];
${visible.toString()}

// The admin API accepts these names for decided_by.
const NAME = ${APPROVER_NAME};
const OUTCOME_TEXT = { "served": "served", "upstream-error": "upstream error", "pending": "waits for approval", "refused": "refused", "failed": "failed", "agent-gone": "agent hung up" };

function el(tag, text, cls) { const e = document.createElement(tag); if (text !== undefined && text !== null) e.textContent = String(text); if (cls) e.className = cls; return e; }
function row(cells, labels) { const tr = document.createElement("tr"); cells.forEach((c, i) => { const td = document.createElement("td"); if (labels) td.dataset.label = labels[i]; if (c instanceof Node) td.append(c); else td.textContent = c === null || c === undefined ? "" : String(c); tr.append(td); }); return tr; }
// Local date and time, to the second: a list that spans midnight or days stays readable.
function when(iso) { if (!iso) return ""; const d = new Date(iso); const p = (n) => String(n).padStart(2, "0"); return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + " " + p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds()); }
function target(a) { return a.method + " " + a.host + (a.port && a.port !== 443 && a.port !== 80 ? ":" + a.port : "") + visible(a.path || ""); }
function fill(tbody, rows, empty, span) { tbody.replaceChildren(...rows); if (rows.length === 0) { const tr = row([el("span", empty, "empty")]); tr.firstChild.colSpan = span; tbody.append(tr); } }
function say(text) { $("status").textContent = text; }

async function api(method, path, body) {
  const res = await fetch(path, { method, headers: { authorization: "Bearer " + token, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status === 401) { sessionStorage.removeItem("sidekey-admin-token"); token = null; showLogin("That admin token was refused."); throw new Error("unauthorized"); }
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error((data.error && data.error.message) || ("HTTP " + res.status));
  return data;
}

async function decide(id, verdict, options) {
  try {
    await api("POST", "/v1/approvals/" + id + "/" + verdict, { by: approver, ...options });
    say((verdict === "approve" ? "approved " : "denied ") + id.slice(0, 8));
  } catch (e) { say("failed: " + e.message); }
}

// Deny asks first, in the page (no browser dialog): an optional note for the agent, then a confirmation.
function askDeny(a) {
  const dialog = $("deny-dialog");
  $("deny-what").textContent = visible(target(a)) + " from " + visible(a.workload || "anonymous");
  $("deny-note").value = "";
  dialog.onclose = () => { if (dialog.returnValue === "deny") { const note = $("deny-note").value.trim(); decide(a.id, "deny", note ? { note } : {}); } };
  dialog.returnValue = "";
  dialog.showModal();
  $("deny-note").focus();
}

// The whole request as it goes upstream, credentials left out: every query parameter with its value, then the headers.
function request(a) {
  const cell = el("div");
  cell.append(el("code", visible(target(a))));
  const pairs = (list, sep) => (list || []).map(([k, v]) => visible(k) + sep + visible(v)).join("\n");
  if ((a.query || []).length > 0) cell.append(el("div", "query:", "muted"), el("pre", pairs(a.query, " = "), "query"));
  if ((a.headers || []).length > 0) cell.append(el("div", "headers:", "muted"), el("pre", pairs(a.headers, ": "), "headers"));
  if (a.mode === "async") cell.append(el("div", "The agent was answered \"pending\" and sends it again once approved.", "muted"));
  return cell;
}

// The whole body (base64 when it is not UTF-8), never cut.
function body(a) {
  if (a.body === null || a.body === undefined) return el("span", "(no body)", "muted");
  const cell = el("div");
  cell.append(el("div", a.body_bytes + " bytes" + (a.body_encoding === "base64" ? ", not UTF-8, shown as base64" : ""), "muted"), el("pre", visible(a.body, true), "body"));
  return cell;
}

const PENDING_LABELS = ["Requested", "Workload", "Request", "Why", "Body", "Expires", "Decide"];

// Input protection, as browsers give permission prompts: the agent decides when its requests
// arrive and when they go (it can hang up), so it can make a card move under the approver's pointer
// just before a click (found by a red-team run: a malicious request took the place of the benign one
// being approved). Waiting requests are listed oldest first, so a new one never moves those above
// it, and for a moment after the list changes its buttons do nothing but say so.
const SETTLE_MS = 1000;
let pendingOrder = null;
let settleTimer = null;
function steady() {
  if ($("pending").dataset.steady === "true") return true;
  say("The waiting requests just changed: look again, then click.");
  return false;
}

function renderApprovals() {
  const all = [...approvals.values()].sort((a, b) => b.created.localeCompare(a.created));
  const pending = all.filter((a) => a.status === "pending").reverse();
  const order = pending.map((a) => a.id).join(",");
  if (order !== pendingOrder) {
    pendingOrder = order;
    $("pending").dataset.steady = "false";
    clearTimeout(settleTimer);
    settleTimer = setTimeout(() => { $("pending").dataset.steady = "true"; }, SETTLE_MS);
  }
  fill($("pending"), pending.map((a) => {
    const buttons = el("span");
    const approve = el("button", "Approve", "ok"); approve.dataset.action = "approve"; approve.onclick = () => steady() && decide(a.id, "approve", {});
    const grant = el("select"); for (const [v, t] of [["", "once"], ["10m", "10 min"], ["1h", "1 hour"], ["1d", "1 day"]]) { const o = el("option", t); o.value = v; grant.append(o); }
    grant.setAttribute("aria-label", "approve for");
    const approveFor = el("button", "Approve for"); approveFor.onclick = () => steady() && decide(a.id, "approve", grant.value ? { for: grant.value } : {});
    const deny = el("button", "Deny...", "deny"); deny.dataset.action = "deny"; deny.onclick = () => steady() && askDeny(a);
    buttons.append(approve, " ", approveFor, grant, " ", deny);
    const tr = row([when(a.created), visible(a.workload || "anonymous"), request(a), visible(a.why), body(a), when(a.expires), buttons], PENDING_LABELS);
    tr.dataset.approval = a.id;
    return tr;
  }), "Nothing waits for approval.", 7);
  fill($("settled"), all.filter((a) => a.status !== "pending").slice(0, 50).map((a) => row([when(a.decided_at), visible(a.workload || "anonymous"), el("code", target(a)), el("span", a.status + (a.grant_until ? " (granted until " + when(a.grant_until) + ")" : "") + (a.note ? ": " + visible(a.note) : ""), a.status === "approved" ? "ok" : "deny"), visible(a.decided_by || "")])), "None yet.", 5);
}

function outcomeCell(d) {
  const cell = el("span");
  cell.append(el("span", OUTCOME_TEXT[d.outcome] || d.outcome, "chip outcome-" + d.outcome));
  const why = d.error ? d.error.replace("SIDEKEY_ERR_", "").toLowerCase().replaceAll("_", "-") : d.reason;
  cell.append(" ", el("span", why + (d.condition ? ": " + d.condition : ""), "muted"));
  return cell;
}

function decisionRow(d) {
  const what = d.event === "tunnel" || d.event === "connect" ? "CONNECT " + (d.host || "") + (d.port ? ":" + d.port : "") : (d.method || "") + " " + (d.host || "") + (d.path || "");
  const tr = row([when(d.time), visible(d.workload || "anonymous"), el("code", visible(what)), d.route || "", outcomeCell(d), d.status]);
  tr.className = "outcome-" + d.outcome; tr.dataset.outcome = d.outcome; tr.dataset.id = d.id;
  return tr;
}

// A tunnel is folded under the requests it carried: one row, under the newest of them, that opens
// to the tunnel's own line. Its route is the one that decided the tunnel (its own audit line).
function tunnelRow(id, t, carried) {
  const tr = document.createElement("tr"); tr.className = "tunnel-row" + (t ? " outcome-" + t.outcome : ""); tr.dataset.tunnel = id;
  const td = document.createElement("td"); td.colSpan = 6; tr.append(td);
  const details = el("details"); td.append(details);
  const name = t ? "CONNECT " + t.host + ":" + t.port : "tunnel " + id.slice(0, 8);
  details.append(el("summary", "via " + name + " (" + carried + (carried === 1 ? " request" : " requests") + (t ? ", tunnel decided by route " + (t.route || "none") : ", still open") + ")"));
  if (t) { const p = el("div"); p.append(when(t.time) + " ", outcomeCell(t), " status " + (t.status === null ? "-" : t.status) + ", " + Math.round(t.total_ms) + " ms"); details.append(p); }
  return tr;
}

function passes(d) {
  const w = $("f-workload").value, r = $("f-route").value, o = $("f-outcome").value;
  return (!w || (d.workload || "anonymous") === w) && (!r || d.route === r) && (!o || d.outcome === o);
}

function refreshFilter(select, values) {
  const keep = select.value;
  const known = new Set([...select.options].map((o) => o.value));
  for (const v of [...values].sort()) if (!known.has(v)) { const o = el("option", v); o.value = v; select.append(o); }
  select.value = keep;
}

function renderDecisions() {
  refreshFilter($("f-workload"), new Set(decisions.map((d) => d.workload || "anonymous")));
  refreshFilter($("f-route"), new Set(decisions.map((d) => d.route).filter(Boolean)));
  const carried = new Map();
  for (const d of decisions) if (d.tunnel) carried.set(d.tunnel, (carried.get(d.tunnel) || 0) + 1);
  const tunnels = new Map(decisions.filter((d) => d.event === "tunnel").map((d) => [d.id, d]));
  const rows = []; const placed = new Set();
  for (const d of decisions.filter(passes).slice(0, 100)) {
    if (d.event === "tunnel" && carried.has(d.id)) continue;
    rows.push(decisionRow(d));
    if (d.tunnel && !placed.has(d.tunnel)) { placed.add(d.tunnel); rows.push(tunnelRow(d.tunnel, tunnels.get(d.tunnel), carried.get(d.tunnel))); }
  }
  fill($("decisions"), rows, decisions.length === 0 ? "No requests yet." : "No request matches the filters.", 6);
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs) { const e = document.createElementNS(SVG, tag); for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v)); return e; }

// Requests per minute as bars, refusals in red over them, the p95 latency as a line (its own scale).
function chart(s) {
  const box = el("div", undefined, "chart"); box.dataset.series = s.name;
  box.append(el("h3", visible(s.name)));
  const max = Math.max(1, ...s.minutes.map((m) => m.requests));
  const slowest = Math.max(1, ...s.minutes.map((m) => m.p95_ms || 0));
  const g = svg("svg", { viewBox: "0 0 240 48", preserveAspectRatio: "none", role: "img", "aria-label": s.requests + " requests, " + s.refusals + " refused, over the last hour" });
  const points = [];
  s.minutes.forEach((m, i) => {
    const h = (m.requests / max) * 46, r = (m.refusals / max) * 46;
    if (h > 0) g.append(svg("rect", { class: "bar", x: i * 4, y: 48 - h, width: 3.4, height: h }));
    if (r > 0) g.append(svg("rect", { class: "refused", x: i * 4, y: 48 - r, width: 3.4, height: r }));
    if (m.p95_ms !== null) points.push((i * 4 + 1.7) + "," + (47 - (m.p95_ms / slowest) * 44).toFixed(1));
  });
  if (points.length > 1) g.append(svg("polyline", { class: "p95", points: points.join(" ") }));
  box.append(g);
  box.append(el("div", s.requests + (s.requests === 1 ? " request, " : " requests, ") + s.refusals + " refused or failed, p95 " + (s.p95_ms === null ? "-" : "<= " + s.p95_ms + " ms"), "muted summary"));
  for (const a of s.anomalies) box.append(el("div", "anomaly: " + a.kind + " at " + when(a.at), "anomaly"));
  return box;
}

async function loadActivity() {
  const { workloads, routes } = await api("GET", "/v1/activity");
  const put = (id, list, empty) => { const c = $(id); c.replaceChildren(...list.map(chart)); if (list.length === 0) c.append(el("div", empty, "empty")); };
  put("activity-workloads", workloads, "No workload sent anything in the last hour.");
  put("activity-routes", routes, "No route was used in the last hour.");
}

async function loadWorkloads() {
  const { workloads } = await api("GET", "/v1/workloads");
  fill($("workloads"), workloads.map((w) => {
    const state = w.quarantined ? "QUARANTINED: " + w.quarantined.reason : w.throttled ? "throttled to " + w.throttled.rps + "/s" : w.learning ? "learning" : "normal";
    let action = "";
    if (w.quarantined || w.throttled) { action = el("button", "Release"); action.onclick = async () => { try { await api("POST", "/v1/workloads/" + encodeURIComponent(w.workload) + "/release", {}); await loadWorkloads(); } catch (e) { say("failed: " + e.message); } }; }
    return row([visible(w.workload), el("span", state, w.quarantined ? "deny" : ""), w.requests, w.destinations, action]);
  }), "No workload seen yet.", 5);
}

async function loadRoutes() {
  const { routes } = await api("GET", "/v1/routes");
  fill($("routes"), routes.map((r) => row([r.name, el("code", r.match.join(" ")), r.action, r.credential ? r.credential.name : "", (r.guards || []).join(", ")])), "No routes loaded.", 5);
}

// Delegated grants: never a token here, only what the admin API lists about each.
const GRANT_STATE = { "connected": "connected", "needs-attention": "NEEDS ATTENTION", "revoked": "revoked", "not-connected": "not connected" };
async function loadGrants() {
  const { grants } = await api("GET", "/v1/oauth/grants");
  fill($("grants"), grants.map((g) => {
    const state = el("span", GRANT_STATE[g.status] || g.status, g.status === "connected" ? "ok" : g.status === "needs-attention" ? "deny" : "muted");
    const stateCell = el("span"); stateCell.append(state); if (g.problem) stateCell.append(el("div", visible(g.problem), "muted"));
    const actions = el("span");
    const connect = el("button", (g.status === "connected" ? "Reconnect " : "Connect ") + g.credential); connect.dataset.action = "connect"; connect.onclick = () => askConnect(g);
    actions.append(connect);
    if (g.status === "connected" || g.status === "needs-attention") {
      const revoke = el("button", "Revoke", "deny"); revoke.dataset.action = "revoke";
      revoke.onclick = async () => { try { const r = await api("DELETE", "/v1/oauth/grants/" + encodeURIComponent(g.credential), { by: approver }); say("revoked " + g.credential + (r.at_provider === true ? " (also at the provider)" : r.at_provider === false ? " (here; the provider did not confirm)" : " (here)")); await loadGrants(); } catch (e) { say("failed: " + e.message); } };
      actions.append(" ", revoke);
    }
    const tr = row([g.credential, visible(g.provider), stateCell, (g.status === "not-connected" ? g.requested_scopes : g.scopes).join(" "), g.connected_by ? visible(g.connected_by) + " " + when(g.connected_at) : "", when(g.last_used), when(g.access_expires_at), actions]);
    tr.dataset.grant = g.credential; tr.dataset.status = g.status;
    return tr;
  }), "No delegated credential in the policy.", 8);
}

// The scopes are shown before the person leaves for the provider; Continue starts the flow and
// follows sidekey's one-time link, which binds this browser to it.
function askConnect(g) {
  const dialog = $("connect-dialog");
  $("connect-what").textContent = g.credential;
  $("connect-provider").textContent = visible(g.provider);
  $("connect-scopes").replaceChildren(...(g.requested_scopes.length ? g.requested_scopes : ["(the provider's default)"]).map((s) => el("li", visible(s))));
  dialog.returnValue = "";
  dialog.onclose = async () => {
    if (dialog.returnValue !== "connect") return;
    try { const started = await api("POST", "/v1/oauth/grants/" + encodeURIComponent(g.credential) + "/connect", { by: approver }); location.assign(started.path); }
    catch (e) { say("failed: " + e.message); }
  };
  dialog.showModal();
}

async function stream() {
  for (;;) {
    try {
      const res = await fetch("/v1/events", { headers: { authorization: "Bearer " + token } });
      if (res.status === 401) { showLogin("That admin token was refused."); return; }
      say("live");
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
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
    say("reconnecting...");
    await new Promise((r) => setTimeout(r, 2000));
  }
}

function showLogin(message) {
  $("main").hidden = true; $("login").hidden = false;
  $("token-field").hidden = Boolean(token);
  $("name").value = approver || "";
  say(message || "");
}

let opened = false;
async function open() {
  $("login").hidden = true; $("main").hidden = false;
  $("who").textContent = "signed in as " + approver;
  try {
    const [{ approvals: list }, { decisions: recent }] = await Promise.all([api("GET", "/v1/approvals"), api("GET", "/v1/decisions")]);
    for (const a of list) approvals.set(a.id, a);
    decisions.splice(0, decisions.length, ...recent);
    renderApprovals(); renderDecisions();
    await Promise.all([loadWorkloads(), loadRoutes(), loadActivity(), loadGrants()]);
    if (!opened) {
      opened = true;
      setInterval(() => loadWorkloads().catch(() => {}), 5000);
      setInterval(() => loadActivity().catch(() => {}), 15000);
      setInterval(() => loadGrants().catch(() => {}), 5000);
      stream();
    }
  } catch (e) { if (e.message !== "unauthorized") say("failed: " + e.message); }
}

$("login").onsubmit = (e) => {
  e.preventDefault();
  const name = $("name").value.trim();
  if (!NAME.test(name)) { say("Give your name (letters, digits, space . @ : - _; at most 64): it is recorded with each decision."); return; }
  approver = name; sessionStorage.setItem("sidekey-approver", approver);
  if (!$("token-field").hidden) { token = $("token").value.trim(); sessionStorage.setItem("sidekey-admin-token", token); }
  open();
};
$("sign-out").onclick = () => { sessionStorage.clear(); location.reload(); };
for (const id of ["f-workload", "f-route", "f-outcome"]) $(id).onchange = renderDecisions;
// A link with a new #token= on an open console is a new login.
addEventListener("hashchange", () => { if (location.hash.includes("token=")) location.reload(); });
if (token && approver) open(); else showLogin("");
`;
//# sourceMappingURL=console-script.js.map