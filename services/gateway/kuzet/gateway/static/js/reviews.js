// Review queue: the probe face next to the enrolled face, score against threshold, and what
// other reviewers already decided. Each reviewer counts once; the server enforces it.
//
// A person who passes the same camera again and again (a looping demo video, a daily walk past a
// gate) is one review while it waits: identity files each new track under the pending match, and
// alerting counts them in its alert, whose count the card shows. Matches opened before that, or
// by two replicas at once, are still one card per person, gallery, camera and review state; a
// decision on such a card is submitted for each of its matches.
import { alertStore } from "./alerts.js";
import { api, patiently, session } from "./api.js";
import { $, clear, h, short, showError, when } from "./dom.js";
import { label, t } from "./i18n.js";

// Face images kept across reloads: each listing signs new links to the same images.
const faces = new Map();

function face(m, which, url, label) {
  const key = `${m.match_id}:${which}`;
  if (faces.has(key)) return faces.get(key);
  const el = h("figure", { class: "face" },
    url ? h("img", { src: url, alt: label }) : h("div", { class: "thumb none" }, t("reviews.no_image")),
    h("figcaption", {}, label));
  faces.set(key, el);
  return el;
}

function sourceLabel(src) {
  if (!src) return t("source.other", { name: "—" });
  const name = src.name || src.id || "—";
  return src.kind === "SOURCE_KIND_CAMERA" ? t("source.camera", { name }) : t("reviews.search_source", { kind: short(src.kind, "SOURCE_KIND_"), name });
}

function reviewsLine(m) {
  const reviews = m.reviews || [];
  const confirms = reviews.filter((r) => r.decision === "REVIEW_DECISION_CONFIRM").length;
  const items = reviews.map((r) => h("li", { class: "prior" },
    t(r.decision === "REVIEW_DECISION_CONFIRM" ? "reviews.confirmed_by" : "reviews.rejected_by", { who: r.reviewer, at: when(r.reviewed_at) }) + `: ${r.reason}`));
  return h("div", { class: "prior-reviews" },
    h("p", { class: "progress" }, t("reviews.progress", { n: confirms, of: m.required_reviewers || 1 })),
    items.length ? h("ul", {}, items) : h("p", { class: "note" }, t("reviews.none_decided")));
}

const reviewers = (m) => (m.reviews || []).map((r) => `${r.reviewer}:${r.decision}`).sort().join(",");

function groupKey(m) {
  const c = m.candidate || {};
  const src = m.source || {};
  if (src.kind !== "SOURCE_KIND_CAMERA" || !c.person_id) return m.match_id;
  return [c.person_id, c.gallery_id, src.id, m.state, reviewers(m)].join("|");
}

// Newest sighting first; the card shows the newest one's faces.
function grouped(matches) {
  const groups = new Map();
  for (const m of matches) {
    const k = groupKey(m);
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push(m);
  }
  const at = (m) => Date.parse(m.occurred_at || m.created_at) || 0;
  for (const g of groups.values()) g.sort((a, b) => at(b) - at(a));
  return [...groups.values()];
}

// A long group can outrun the per-user rate: `patiently` waits as long as the gateway asks.
const submit = (m, decision, reason) =>
  patiently(() => api(`/api/v1/reviews/${encodeURIComponent(m.match_id)}`, { method: "POST", body: { decision, reason } }));

async function decide(group, decision, reasonInput, buttons) {
  const reason = reasonInput.value.trim();
  if (!reason) { reasonInput.focus(); showError(t("reviews.reason_required")); return; }
  for (const b of buttons) b.disabled = true;
  try {
    for (const m of group) {
      try { await submit(m, decision, reason); }
      catch (e) { if (e.status !== 409) throw e; } // decided meanwhile (enough reviewers): nothing to add
    }
  } catch (e) { showError(t("reviews.decide_failed", { message: e.message })); }
  await loadReviews();
}

// Sightings of the card's matches: each match's alerts count the tracks filed under it.
function seen(group) {
  const counts = new Map(group.map((m) => [`match:${m.match_id}`, 0]));
  let last = "";
  for (const a of alertStore.all()) {
    if (a.type !== "face_match_candidate" || !counts.has(a.subject)) continue;
    counts.set(a.subject, counts.get(a.subject) + (Number(a.count) || 1));
    if (String(a.last_seen_at) > last) last = String(a.last_seen_at);
  }
  return { times: [...counts.values()].reduce((n, c) => n + Math.max(1, c), 0), last };
}

function sightingsText(group) {
  const { times, last } = seen(group);
  const parts = [];
  if (times > 1) parts.push(t("reviews.seen_times", { n: times, last: when(last) }));
  if (group.length > 1) {
    const tracks = [...new Set(group.map((m) => m.track_id).filter(Boolean))];
    const listed = tracks.slice(0, 8).join(", ") + (tracks.length > 8 ? ", …" : "");
    parts.push(t("reviews.grouped", { n: group.length, tracks: listed,
      from: when(group[group.length - 1].occurred_at), to: when(group[0].occurred_at) }));
  }
  return parts.join(" ");
}

// Cards on screen with their groups, so a sighting that comes in updates its card in place.
let shown = [];

function sightings(group) {
  const text = sightingsText(group);
  const el = h("p", { class: "sightings", hidden: !text }, text);
  shown.push([group, el]);
  return el;
}

alertStore.onChange(() => {
  for (const [group, el] of shown) {
    const text = sightingsText(group);
    if (el.textContent !== text) { el.textContent = text; el.hidden = !text; }
  }
});

function card(group) {
  const m = group[0];
  const c = m.candidate || {};
  const reason = h("input", { class: "reason", placeholder: t("reviews.reason_placeholder"), maxlength: 2000 });
  const mine = (m.reviews || []).some((r) => r.reviewer === session.me.subject);
  const many = group.length > 1;
  const buttons = [
    h("button", { class: "confirm" }, many ? t("reviews.confirm_all", { n: group.length }) : t("reviews.confirm")),
    h("button", { class: "reject secondary" }, many ? t("reviews.reject_all", { n: group.length }) : t("reviews.reject")),
  ];
  buttons[0].addEventListener("click", () => decide(group, "confirm", reason, buttons));
  buttons[1].addEventListener("click", () => decide(group, "reject", reason, buttons));
  const decideButtons = session.can("reviews.decide") && !mine
    ? [reason, ...buttons]
    : [h("p", { class: "note" }, mine ? t("reviews.already_reviewed") : t("reviews.read_only"))];
  return h("li", { class: "review", dataset: { matchId: m.match_id, matchIds: group.map((x) => x.match_id).join(" ") } },
    h("div", { class: "faces" }, face(m, "probe", m.probe_url, t("reviews.probe")), face(m, "enrolled", m.enrolled_url, t("reviews.enrolled"))),
    h("div", { class: "review-main" },
      h("h2", {}, c.display_name || c.external_id || c.person_id || t("reviews.unknown")),
      h("p", { class: "score" }, t("reviews.score", { score: Number(c.score || 0).toFixed(3), threshold: Number(c.threshold || 0).toFixed(3) })),
      h("p", { class: "meta" }, t("reviews.where", { source: sourceLabel(m.source), zone: m.zone_id || "—", at: when(m.occurred_at) })),
      sightings(group),
      h("p", { class: "meta" }, t("reviews.state", { state: label("match_state", short(m.state, "MATCH_STATE_")) })),
      reviewsLine(m),
      h("div", { class: "actions" }, decideButtons)));
}

let loads = 0;

export async function loadReviews() {
  const mine = ++loads;
  try {
    const data = await api("/api/v1/reviews", { query: { page_size: 200 } });
    if (mine !== loads) return;
    // Clear after the answer, not before: two loads in flight would otherwise both append.
    const list = clear($("#review-list"));
    shown = [];
    const groups = grouped(data.matches);
    for (const g of groups) list.append(card(g));
    const kept = new Set(groups.map((g) => g[0].match_id));
    for (const key of faces.keys()) if (!kept.has(key.split(":")[0])) faces.delete(key);
    $("#review-empty").hidden = data.matches.length > 0;
  } catch (e) { showError(t("reviews.load_failed", { message: e.message })); }
}
