// One alert in full: its snapshot, where it is, what to do, its history (GET /alerts/{id}?history)
// and the actions the caller's role may take. Opened from a row of the alert list.
import { api, session } from "./api.js";
import { act, alertStore, hasDraft, resolvedText, resolveForm, startDraft } from "./alerts.js";
import { $, clear, h, place, short, showError, sourceText, when } from "./dom.js";
import { has, label, t } from "./i18n.js";

// "What to do" per event type: catalogue keys guidance.<type>, then a family, then a default.
function guidance(type) {
  if (has(`guidance.${type}`)) return t(`guidance.${type}`);
  for (const family of ["camera", "badge", "drone"])
    if (type.startsWith(`${family}_`)) return t(`guidance.family_${family}`);
  return t("guidance.default");
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
  let what = label("update", kind);
  if (kind === "updated") what = t("detail.update_another", { count: a.count || "?" }) + (a.summary ? `: ${a.summary}` : "");
  if (kind === "resolved") what = t("detail.update_resolved", { outcome: label("outcome", (a.outcome || "").replace("ALERT_OUTCOME_", "").toLowerCase()) }) + (a.note ? ` — ${a.note}` : "");
  if (kind === "escalated") what = t("detail.update_escalated", { level: a.escalation_level || 0 });
  return h("li", { class: `update update-${kind}` },
    h("time", { datetime: u.recorded_at }, when(u.recorded_at, shown && shown.site_id)), " ", what, u.actor ? ` (${u.actor})` : "");
}

function snapshot(a) {
  const key = (a.latest && a.latest.snapshot && a.latest.snapshot.key) || "";
  if (!a.snapshot_url) return h("div", { class: "snapshot none" }, t("detail.no_image"));
  const kept = snapshots.get(a.alert_id);
  if (kept && kept.key === key) return kept.el;
  const el = h("img", { class: "snapshot", src: a.snapshot_url, alt: t("detail.snapshot_of", { source: sourceText(a.source) }) });
  snapshots.set(a.alert_id, { key, el });
  return el;
}

function actions(a) {
  const out = [];
  if (a.type === "face_match_candidate" && session.can("reviews.read"))
    out.push(h("a", { class: "button", href: "#reviews", onclick: closeAlertDetail }, t("alerts.review_match")));
  if (session.can("alerts.act") && state(a) === "new")
    out.push(h("button", { class: "ack", onclick: () => act(a, "acknowledge") }, t("alerts.acknowledge")));
  if (session.can("alerts.act") && state(a) !== "resolved") {
    if (hasDraft(a.alert_id)) out.push(resolveForm(a));
    else out.push(h("button", { class: "resolve secondary", onclick: () => startDraft(a.alert_id) }, t("alerts.resolve")));
  }
  if (!out.length) out.push(h("p", { class: "note" }, state(a) === "resolved" ? t("detail.closed") : t("detail.read_only")));
  return out;
}

function draw() {
  const body = clear($("#alert-detail-body"));
  const a = shown;
  drawnKey = a ? `${a.alert_id}|${a.updated_at}|${hasDraft(a.alert_id)}` : "";
  if (!a) { body.append(h("p", { class: "note" }, t("common.loading"))); return; }
  const sev = short(a.severity, "SEVERITY_");
  body.append(
    h("div", { class: "detail-head" },
      h("span", { class: `sev sev-${sev}` }, sev ? label("severity", sev) : "?"),
      h("h2", { id: "alert-detail-title", class: "alert-type" }, label("alert_type", a.type || "")),
      a.count && Number(a.count) > 1 ? h("span", { class: "count" }, `×${a.count}`) : null,
      h("span", { class: `state state-${state(a)}` }, label("state", state(a))),
      h("button", { class: "close secondary", onclick: closeAlertDetail }, t("common.close"))),
    h("div", { class: "detail-grid" },
      snapshot(a),
      h("div", { class: "detail-main" },
        h("p", { class: "summary" }, a.summary || (a.latest && a.latest.summary) || ""),
        h("h3", {}, t("detail.where")),
        h("ul", { class: "where" },
          h("li", { class: "source" }, sourceText(a.source)),
          place(a).map(([cls, text]) => h("li", { class: cls }, text))),
        h("h3", {}, t("detail.what_to_do")),
        h("p", { class: "guidance" }, guidance(a.type || "")),
        h("p", { class: "meta" }, t("detail.seen", { first: when(a.first_seen_at, a.site_id), last: when(a.last_seen_at, a.site_id) })),
        a.duty_roles && a.duty_roles.length ? h("p", { class: "meta" }, t("detail.on_duty", { roles: a.duty_roles.join(", ") })) : null,
        a.acknowledged_by ? h("p", { class: "meta" }, t("alerts.acknowledged_by", { who: a.acknowledged_by })) : null,
        a.resolved_by ? h("p", { class: "meta" }, resolvedText(a)) : null,
        h("div", { class: "actions" }, actions(a)))),
    h("h3", {}, t("detail.history")),
    history.length ? h("ol", { class: "history" }, history.map(historyLine)) : h("p", { class: "note" }, t("detail.loading_history")));
}

async function load(id) {
  const mine = ++loads;
  try {
    const data = await api(`/api/v1/alerts/${encodeURIComponent(id)}`, { query: { history: true } });
    if (mine !== loads || openId !== id) return;
    shown = data.alert;
    history = data.history || [];
    draw();
  } catch (e) { showError(t("detail.load_failed", { message: e.message })); }
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
