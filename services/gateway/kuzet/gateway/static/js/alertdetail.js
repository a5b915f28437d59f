// One alert in full: its snapshot, where it is, what to do, its history (GET /alerts/{id}?history)
// and the actions the caller's role may take. Opened from a row of the alert list.
import { api, session } from "./api.js";
import { act, alertStore, hasDraft, resolveForm, startDraft } from "./alerts.js";
import { $, clear, h, place, short, showError, sourceText, when } from "./dom.js";

const GUIDANCE = {
  badge_panic: "An officer pressed the panic button. Send the nearest unit to the position shown and call the officer; acknowledge so the escalation stops.",
  person_down: "Look at the camera now. If the person does not get up, send staff and medical help.",
  zone_intrusion: "Check the camera. If someone is in the zone, send staff and keep the camera on them.",
  line_crossing: "Check who crossed and in which direction; send staff if it was not allowed.",
  loitering: "Check the camera; send staff if the person has no reason to be there.",
  crowding: "Check the camera; send staff to break up the group if needed.",
  post_unattended: "Call the officer of the post; send relief if nobody answers.",
  face_match_candidate: "A candidate only: nobody may act on it until reviewers confirm the match in the review queue.",
  face_match_confirmed: "Reviewers confirmed the match: follow the procedure of the watchlist it came from.",
  integrity_report: "An officer reported a concern: pass it to the supervisor on duty.",
  plate_hotlist: "A plate on the hotlist passed this camera. Compare the vehicle and plate with the entry (Traffic tab) before anyone acts, then follow the entry's reason and legal basis.",
};

function guidance(type) {
  if (GUIDANCE[type]) return GUIDANCE[type];
  if (type.startsWith("camera_")) return "A camera fault: the area it covers is not watched. Check the camera and tell maintenance.";
  if (type.startsWith("badge_")) return "Call the officer wearing the badge and check that they are safe.";
  if (type.startsWith("drone_")) return "Check the drone with its pilot; bring it home if in doubt.";
  return "Check the source, acknowledge to take the alert, and resolve it with what was done.";
}

let openId = null;
let shown = null;
let history = [];
let loads = 0;
let drawnKey = "";
let hooked = false;
const snapshots = new Map();

const state = (a) => short(a.state, "ALERT_STATE_");

function historyLine(u) {
  const kind = short(u.kind, "ALERT_UPDATE_KIND_");
  const a = u.alert || {};
  let what = kind;
  if (kind === "updated") what = `another event (×${a.count || "?"})${a.summary ? `: ${a.summary}` : ""}`;
  if (kind === "resolved") what = `resolved: ${short(a.outcome, "ALERT_OUTCOME_")}${a.note ? ` — ${a.note}` : ""}`;
  if (kind === "escalated") what = `escalated to level ${a.escalation_level || 0}`;
  return h("li", { class: `update update-${kind}` },
    h("time", { datetime: u.recorded_at }, when(u.recorded_at)), " ", what, u.actor ? ` (${u.actor})` : "");
}

function snapshot(a) {
  const key = (a.latest && a.latest.snapshot && a.latest.snapshot.key) || "";
  if (!a.snapshot_url) return h("div", { class: "snapshot none" }, "No image.");
  const kept = snapshots.get(a.alert_id);
  if (kept && kept.key === key) return kept.el;
  const el = h("img", { class: "snapshot", src: a.snapshot_url, alt: `snapshot of ${sourceText(a.source)}` });
  snapshots.set(a.alert_id, { key, el });
  return el;
}

function actions(a) {
  const out = [];
  if (a.type === "face_match_candidate" && session.can("reviews.read"))
    out.push(h("a", { class: "button", href: "#reviews", onclick: closeAlertDetail }, "Review match"));
  if (session.can("alerts.act") && state(a) === "new")
    out.push(h("button", { class: "ack", onclick: () => act(a, "acknowledge") }, "Acknowledge"));
  if (session.can("alerts.act") && state(a) !== "resolved") {
    if (hasDraft(a.alert_id)) out.push(resolveForm(a));
    else out.push(h("button", { class: "resolve secondary", onclick: () => startDraft(a.alert_id) }, "Resolve"));
  }
  if (!out.length) out.push(h("p", { class: "note" }, state(a) === "resolved" ? "Closed." : "Your role may only read alerts."));
  return out;
}

function draw() {
  const body = clear($("#alert-detail-body"));
  const a = shown;
  drawnKey = a ? `${a.alert_id}|${a.updated_at}|${hasDraft(a.alert_id)}` : "";
  if (!a) { body.append(h("p", { class: "note" }, "Loading…")); return; }
  const sev = short(a.severity, "SEVERITY_");
  body.append(
    h("div", { class: "detail-head" },
      h("span", { class: `sev sev-${sev}` }, sev || "?"),
      h("h2", { id: "alert-detail-title", class: "alert-type" }, (a.type || "").replace(/_/g, " ")),
      a.count && Number(a.count) > 1 ? h("span", { class: "count" }, `×${a.count}`) : null,
      h("span", { class: `state state-${state(a)}` }, state(a)),
      h("button", { class: "close secondary", onclick: closeAlertDetail }, "Close")),
    h("div", { class: "detail-grid" },
      snapshot(a),
      h("div", { class: "detail-main" },
        h("p", { class: "summary" }, a.summary || (a.latest && a.latest.summary) || ""),
        h("h3", {}, "Where"),
        h("ul", { class: "where" },
          h("li", { class: "source" }, sourceText(a.source)),
          place(a).map(([cls, text]) => h("li", { class: cls }, text))),
        h("h3", {}, "What to do"),
        h("p", { class: "guidance" }, guidance(a.type || "")),
        h("p", { class: "meta" }, `First seen ${when(a.first_seen_at)}, last seen ${when(a.last_seen_at)}`),
        a.duty_roles && a.duty_roles.length ? h("p", { class: "meta" }, `On duty: ${a.duty_roles.join(", ")}`) : null,
        a.acknowledged_by ? h("p", { class: "meta" }, `Acknowledged by ${a.acknowledged_by}`) : null,
        a.resolved_by ? h("p", { class: "meta" }, `Resolved by ${a.resolved_by}: ${short(a.outcome, "ALERT_OUTCOME_")}${a.note ? ` — ${a.note}` : ""}`) : null,
        h("div", { class: "actions" }, actions(a)))),
    h("h3", {}, "History"),
    history.length ? h("ol", { class: "history" }, history.map(historyLine)) : h("p", { class: "note" }, "Loading history…"));
}

async function load(id) {
  const mine = ++loads;
  try {
    const data = await api(`/api/v1/alerts/${encodeURIComponent(id)}`, { query: { history: true } });
    if (mine !== loads || openId !== id) return;
    shown = data.alert;
    history = data.history || [];
    draw();
  } catch (e) { showError(`alert: ${e.message}`); }
}

export function openAlertDetail(id) {
  const dlg = $("#alert-detail");
  if (!hooked) {
    hooked = true;
    dlg.addEventListener("close", () => { openId = null; snapshots.clear(); });
    // Redraw when a resolve form opens or closes in the list's shared drafts.
    alertStore.onChange(() => {
      if (openId && shown && `${shown.alert_id}|${shown.updated_at}|${hasDraft(shown.alert_id)}` !== drawnKey) draw();
    });
  }
  openId = id;
  shown = alertStore.get(id) || null;
  history = [];
  draw();
  if (!dlg.open) dlg.showModal();
  return load(id);
}

// A newer state of the open alert came in (from the feed or an action): fetch it with its history.
export function refreshAlertDetail(a) {
  if (openId === a.alert_id && (!shown || a.updated_at !== shown.updated_at)) load(a.alert_id);
}

export function closeAlertDetail() {
  const dlg = $("#alert-detail");
  if (dlg && dlg.open) dlg.close();
  openId = null;
}
