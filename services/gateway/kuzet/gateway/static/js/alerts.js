// Live alert list: initial page from REST, then the WebSocket feed (resumes from the last cursor).
import { api, session } from "./api.js";
import { closeAlertDetail, openAlertDetail, refreshAlertDetail } from "./alertdetail.js";
import { ALERT_PAGE, forgetThumbs, thumbOf } from "./thumbs.js";
import { $, ago, clear, h, place, severityRank, short, showError, sourceText, when } from "./dom.js";
import { label, t } from "./i18n.js";

const alerts = new Map();
let lastCursor = null;
let socket = null;
let retry = 0;
let stopped = true;
const listeners = new Set();

export const alertStore = { all: () => [...alerts.values()], get: (id) => alerts.get(id), onChange: (fn) => listeners.add(fn) };

const sev = (a) => short(a.severity, "SEVERITY_");
const state = (a) => short(a.state, "ALERT_STATE_");

function wanted(a) {
  const s = $("#alert-state").value;
  const min = $("#alert-severity").value;
  if (s === "open" && state(a) === "resolved") return false;
  if (s && s !== "open" && state(a) !== s) return false;
  if (min && severityRank(a.severity) < severityRank(`SEVERITY_${min.toUpperCase()}`)) return false;
  return true;
}

function sorted() {
  return [...alerts.values()].filter(wanted).sort((a, b) =>
    (b.priority || 0) - (a.priority || 0) ||
    severityRank(b.severity) - severityRank(a.severity) ||
    String(b.last_seen_at).localeCompare(String(a.last_seen_at)));
}

// Resolve forms that are open, with what was typed, so a live re-render does not lose them.
const drafts = new Map();
const OUTCOMES = ["action_taken", "no_action_needed", "false_alarm", "duplicate", "test"];

export async function act(alert, action, body = { note: "" }) {
  try {
    const resp = await api(`/api/v1/alerts/${encodeURIComponent(alert.alert_id)}/${action}`, { method: "POST", body });
    drafts.delete(alert.alert_id);
    upsert(resp.alert);
  } catch (e) { showError(t("alerts.action_failed", { action: t(action === "acknowledge" ? "alerts.acknowledge" : "alerts.resolve"), message: e.message })); }
}

export const hasDraft = (id) => drafts.has(id);
export function startDraft(id) { drafts.set(id, { outcome: "action_taken", note: "" }); render(); }

export function resolveForm(a) {
  const draft = drafts.get(a.alert_id);
  const outcome = h("select", { class: "outcome", onchange: (e) => { draft.outcome = e.target.value; } },
    OUTCOMES.map((o) => h("option", { value: o, selected: o === draft.outcome }, label("outcome", o))));
  const note = h("input", { class: "note-input", placeholder: t("alerts.note"), maxlength: 2000, value: draft.note,
    oninput: (e) => { draft.note = e.target.value; } });
  return h("form", { class: "resolve-form", onsubmit: (e) => { e.preventDefault(); act(a, "resolve", { ...draft }); } },
    outcome, note,
    h("button", { type: "submit", class: "resolve-confirm" }, t("alerts.close_alert")),
    h("button", { type: "button", class: "secondary", onclick: () => { drafts.delete(a.alert_id); render(); } }, t("common.cancel")));
}

export function resolvedText(a) {
  const outcome = label("outcome", (a.outcome || "").replace("ALERT_OUTCOME_", "").toLowerCase());
  return t("alerts.resolved_by", { who: a.resolved_by, outcome }) + (a.note ? ` — ${a.note}` : "");
}

export function row(a) {
  const thumb = thumbOf(a);
  const buttons = [];
  if (a.type === "face_match_candidate" && session.can("reviews.read"))
    buttons.push(h("a", { class: "button", href: "#reviews" }, t("alerts.review_match")));
  if (session.can("alerts.act") && state(a) === "new")
    buttons.push(h("button", { class: "ack", onclick: () => act(a, "acknowledge") }, t("alerts.acknowledge")));
  if (session.can("alerts.act") && state(a) !== "resolved" && !drafts.has(a.alert_id))
    buttons.push(h("button", { class: "resolve secondary", onclick: () => {
      drafts.set(a.alert_id, { outcome: "action_taken", note: "" }); render(); } }, t("alerts.resolve")));
  buttons.push(h("button", { class: "details secondary", onclick: () => openAlertDetail(a.alert_id) }, t("alerts.details")));
  // The whole row opens the detail too; its own controls keep their meaning.
  const open = (e) => { if (!e.target.closest("button, a, input, select, textarea, form")) openAlertDetail(a.alert_id); };
  return h("li", { class: `alert sev-${sev(a)} state-${state(a)}`, dataset: { alertId: a.alert_id }, onclick: open },
    thumb,
    h("div", { class: "alert-main" },
      h("div", { class: "alert-head" },
        h("span", { class: `sev sev-${sev(a)}` }, sev(a) ? label("severity", sev(a)) : "?"),
        h("strong", { class: "alert-type" }, label("alert_type", a.type || "")),
        a.count && Number(a.count) > 1 ? h("span", { class: "count" }, `×${a.count}`) : null,
        h("span", { class: `state state-${state(a)}` }, label("state", state(a)))),
      h("div", { class: "summary" }, a.summary || (a.latest && a.latest.summary) || ""),
      h("div", { class: "meta" },
        h("span", { class: "camera" }, sourceText(a.source)),
        ...place(a).map(([cls, text]) => h("span", { class: cls }, text)),
        h("time", { datetime: a.last_seen_at, title: when(a.last_seen_at, a.site_id) }, `${when(a.last_seen_at, a.site_id)} (${ago(a.last_seen_at)})`)),
      a.acknowledged_by ? h("div", { class: "meta" }, t("alerts.acknowledged_by", { who: a.acknowledged_by })) : null,
      a.resolved_by ? h("div", { class: "meta" }, resolvedText(a)) : null,
      drafts.has(a.alert_id) && state(a) !== "resolved" ? resolveForm(a) : null),
    h("div", { class: "actions" }, buttons));
}

export function render() {
  const list = clear($("#alert-list"));
  const items = sorted();
  for (const a of items) list.append(row(a));
  $("#alert-empty").hidden = items.length > 0;
  for (const fn of listeners) fn();
}

export function upsert(a) {
  const fresh = !alerts.has(a.alert_id);
  alerts.set(a.alert_id, a);
  render();
  refreshAlertDetail(a);
  if (fresh) {
    const el = document.querySelector(`li[data-alert-id="${CSS.escape(a.alert_id)}"]`);
    if (el) el.classList.add("fresh");
  }
}

function setStatus(text, ok) {
  const el = $("#feed-status");
  el.hidden = false;
  el.textContent = text;
  el.className = `feed-status ${ok ? "live" : "down"}`;
}

function connect() {
  if (stopped || !session.token) return;
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  socket = new WebSocket(`${proto}//${location.host}/ws/alerts`);
  socket.onopen = () => {
    const msg = { type: "auth", token: session.token };
    if (lastCursor !== null) msg.cursor = lastCursor;
    socket.send(JSON.stringify(msg));
  };
  socket.onmessage = (ev) => {
    const msg = JSON.parse(ev.data);
    if (msg.type === "ready") { retry = 0; setStatus(t("feed.live"), true); }
    else if (msg.type === "heartbeat") { if (lastCursor === null || msg.cursor > lastCursor) lastCursor = msg.cursor; }
    else if (msg.type === "update") { lastCursor = msg.cursor; upsert(msg.alert); }
  };
  socket.onclose = (ev) => {
    socket = null;
    if (stopped) return;
    if (ev.code === 4401 || ev.code === 4403) { setStatus(t("feed.closed", { reason: ev.reason }), false); return; }
    setStatus(t("feed.reconnecting"), false);
    retry = Math.min(retry + 1, 6);
    setTimeout(connect, 500 * 2 ** retry);
  };
}

export async function startAlerts() {
  stopped = false;
  try {
    const data = await api("/api/v1/alerts", { query: ALERT_PAGE });
    for (const a of data.alerts) alerts.set(a.alert_id, a);
  } catch (e) { showError(t("alerts.load_failed", { message: e.message })); }
  render();
  connect();
}

export function stopAlerts() {
  stopped = true;
  if (socket) socket.close();
  closeAlertDetail();
  alerts.clear();
  forgetThumbs();
  lastCursor = null;
}

for (const id of ["#alert-state", "#alert-severity"]) document.addEventListener("DOMContentLoaded", () => $(id).addEventListener("change", render));
