// One alert in full: its snapshot, where it is, what to do, its history (GET /alerts/{id}?history)
// and the actions the caller's role may take. Opened from a row of the alert list. Behaviour
// alerts (a fall, violence...) also show the people's skeletons on the snapshot, how long the
// behaviour lasted and, when ingest kept one, a clip of the seconds before, so the operator can
// tell at a glance what the camera saw.
import { api, session } from "./api.js";
import { act, alertStore, hasDraft, resolvedText, resolveForm, startDraft } from "./alerts.js";
import { $, clear, h, place, short, showError, sourceText, when } from "./dom.js";
import { has, label, language, t, timeZone, zoneOf } from "./i18n.js";

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
const clips = new Map();

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

// COCO's 17 keypoints (nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles) joined
// into a body, as index pairs: legs, hips, torso, shoulders, arms, face, ears to shoulders.
const LIMBS = [
  [15, 13], [13, 11], [16, 14], [14, 12], [11, 12], [5, 11], [6, 12], [5, 6], [5, 7], [6, 8],
  [7, 9], [8, 10], [1, 2], [0, 1], [0, 2], [1, 3], [2, 4], [3, 5], [4, 6],
];
// Below this the pose model is guessing (an occluded wrist, a knee out of frame): drawing it
// would show a limb where there is none.
const MIN_SCORE = 0.2;
// One colour per person, apart from the red of the boxes ingest burns into the snapshot.
const TRACK_COLOURS = ["#22d3ee", "#a3e635", "#f472b6", "#fbbf24", "#a78bfa", "#34d399", "#fb923c", "#e5e7eb"];

const attributesOf = (a) => (a.latest && a.latest.attributes) || {};

// [track id, 17 points or null where unseen] per person the event's keypoints hold.
function people(a) {
  const kp = attributesOf(a).keypoints;
  if (!kp || typeof kp !== "object" || Array.isArray(kp)) return [];
  return Object.entries(kp)
    .filter(([, points]) => Array.isArray(points))
    .map(([track, points]) => [track, points.map((p) =>
      Array.isArray(p) && p.length >= 3 && p.slice(0, 3).every((v) => Number.isFinite(v)) && p[2] >= MIN_SCORE ? p : null)]);
}

// Drawn in the snapshot's own pixels (the keypoints are source-frame pixels and the snapshot is
// the whole frame), so it scales with the image; sized once the image tells its natural size.
function skeletons(list, img) {
  const svg = h("svg", { class: "skeletons", role: "img", "aria-label": t("detail.skeletons", { n: list.length }) },
    list.map(([track, points], i) => {
      const colour = TRACK_COLOURS[i % TRACK_COLOURS.length];
      return h("g", { class: "skeleton", "data-track": track, stroke: colour, fill: colour },
        h("title", {}, t("detail.track", { track })),
        LIMBS.filter(([p, q]) => points[p] && points[q]).map(([p, q]) =>
          h("line", { x1: points[p][0], y1: points[p][1], x2: points[q][0], y2: points[q][1] })),
        points.filter(Boolean).map((p) => h("circle", { cx: p[0], cy: p[1] })));
    }));
  svg.style.display = "none"; // until the viewBox is known, points would land anywhere
  const fit = () => {
    const w = img.naturalWidth, hgt = img.naturalHeight;
    if (!w || !hgt) return;
    svg.setAttribute("viewBox", `0 0 ${w} ${hgt}`);
    const r = Math.max(2, Math.max(w, hgt) / 250);
    for (const c of svg.querySelectorAll("circle")) c.setAttribute("r", r);
    svg.style.display = "";
  };
  img.addEventListener("load", fit);
  if (img.complete) fit();
  return svg;
}

function snapshot(a) {
  const key = (a.latest && a.latest.snapshot && a.latest.snapshot.key) || "";
  if (!a.snapshot_url) return h("div", { class: "snapshot none" }, t("detail.no_image"));
  const kept = snapshots.get(a.alert_id);
  if (kept && kept.key === key) return kept.el;
  const img = h("img", { class: "snapshot", src: a.snapshot_url, alt: t("detail.snapshot_of", { source: sourceText(a.source) }) });
  const list = people(a);
  const el = list.length ? h("div", { class: "snapshot-posed" }, img, skeletons(list, img)) : img;
  snapshots.set(a.alert_id, { key, el });
  return el;
}

// The seconds before the event, when ingest kept them; a few seconds later the clip of the seconds
// before and after replaces it (a new key, so a new element). Kept across redraws like the
// snapshot: a new element would fetch the clip again (one more evidence view in the audit trail)
// and restart it while the operator watches. Muted and not autoplayed: the operator starts it.
function clip(a) {
  if (!a.clip_url) return null;
  const key = (a.latest && a.latest.clip && a.latest.clip.key) || "";
  const kept = clips.get(a.alert_id);
  if (kept && kept.key === key) return kept.el;
  const around = attributesOf(a).clip_after_s > 0;
  const caption = h("figcaption", {}, around ? t("detail.clip_around", { after: attributesOf(a).clip_after_s }) : t("detail.clip"));
  // Preloaded whole (clips are a few seconds): a fetch started after the link expired is refused.
  const video = h("video", { class: "clip", src: a.clip_url, controls: true, muted: true, playsinline: true, preload: "auto",
    onerror: () => { el.classList.add("broken"); caption.textContent = t("detail.clip_failed"); } });
  video.muted = true; // the attribute alone sets only the default
  const el = h("figure", { class: "clip" }, video, caption);
  clips.set(a.alert_id, { key, el });
  return el;
}

const epochIso = (s) => new Date(s * 1000).toISOString();

// Frames a fraction of a second apart would all read the same at whole seconds.
function clock(seconds, siteId) {
  const opts = { hour: "numeric", minute: "2-digit", second: "2-digit", fractionalSecondDigits: 1 };
  const d = new Date(seconds * 1000);
  try {
    return new Intl.DateTimeFormat(language(), { ...opts, timeZone: zoneOf(siteId) }).format(d);
  } catch { // an unknown zone in a site's configuration: the user's own
    return new Intl.DateTimeFormat(language(), { ...opts, timeZone: timeZone() }).format(d);
  }
}

// How long the behaviour held and since when, and the frames that show it (the last is the snapshot).
function behaviour(a) {
  const at = attributesOf(a);
  const parts = [];
  if (Number.isFinite(at.held_s))
    parts.push(t("detail.held_for", { seconds: new Intl.NumberFormat(language(), { maximumFractionDigits: 1 }).format(at.held_s) }));
  if (Number.isFinite(at.started_at)) parts.push(t("detail.since", { time: when(epochIso(at.started_at), a.site_id) }));
  const frames = Array.isArray(at.frames) ? at.frames.filter((f) => Number.isFinite(f)) : [];
  if (!parts.length && !frames.length) return null;
  return h("div", { class: "behaviour" },
    parts.length ? h("p", { class: "measures" }, parts.join(", ")) : null,
    frames.length ? [
      h("p", { class: "frames-label" }, t("detail.frames")),
      h("ol", { class: "frames" }, frames.map((f, i) =>
        h("li", {},
          h("time", { datetime: epochIso(f), title: when(epochIso(f), a.site_id) }, clock(f, a.site_id)),
          i === frames.length - 1 && a.snapshot_url ? ` ${t("detail.frame_shown")}` : ""))),
    ] : null);
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
      h("div", { class: "detail-picture" }, snapshot(a), clip(a), behaviour(a)),
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
    dlg.addEventListener("close", () => { openId = null; snapshots.clear(); clips.clear(); });
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
