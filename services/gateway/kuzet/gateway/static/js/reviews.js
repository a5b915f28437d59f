// Review queue: the probe face next to the enrolled face, score against threshold, and what
// other reviewers already decided. Each reviewer counts once; the server enforces it.
//
// A camera opens one match per track, so a person who passes the same camera again and again
// (a looping demo video, a daily walk past a gate) queues identical matches. The queue shows one
// card per person, gallery, camera and review state, with its sightings; a decision on the card
// is submitted for each of its matches.
import { api, session } from "./api.js";
import { $, clear, h, short, showError, when } from "./dom.js";

// Face images kept across reloads: each listing signs new links to the same images.
const faces = new Map();

function face(m, which, url, label) {
  const key = `${m.match_id}:${which}`;
  if (faces.has(key)) return faces.get(key);
  const el = h("figure", { class: "face" },
    url ? h("img", { src: url, alt: label }) : h("div", { class: "thumb none" }, "no image"),
    h("figcaption", {}, label));
  faces.set(key, el);
  return el;
}

function sourceLabel(src) {
  if (!src) return "Source —";
  const name = src.name || src.id || "—";
  return src.kind === "SOURCE_KIND_CAMERA" ? `Camera ${name}` : `Search (${short(src.kind, "SOURCE_KIND_")}: ${name})`;
}

function reviewsLine(m) {
  const reviews = m.reviews || [];
  const confirms = reviews.filter((r) => r.decision === "REVIEW_DECISION_CONFIRM").length;
  const items = reviews.map((r) => h("li", { class: "prior" },
    `${short(r.decision, "REVIEW_DECISION_")}ed by ${r.reviewer} (${when(r.reviewed_at)}): ${r.reason}`));
  return h("div", { class: "prior-reviews" },
    h("p", { class: "progress" }, `${confirms} of ${m.required_reviewers || 1} confirmations`),
    items.length ? h("ul", {}, items) : h("p", { class: "note" }, "No reviewer has decided yet."));
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

const pause = (ms) => new Promise((done) => setTimeout(done, ms));

async function submit(m, decision, reason) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await api(`/api/v1/reviews/${encodeURIComponent(m.match_id)}`, { method: "POST", body: { decision, reason } });
    } catch (e) {
      // A long group can outrun the per-user rate: wait as long as the gateway asks.
      if (e.status !== 429 || attempt >= 5) throw e;
      await pause(Math.max(1, e.retryAfter) * 1000);
    }
  }
}

async function decide(group, decision, reasonInput, buttons) {
  const reason = reasonInput.value.trim();
  if (!reason) { reasonInput.focus(); showError("A reason is required."); return; }
  for (const b of buttons) b.disabled = true;
  try {
    for (const m of group) {
      try { await submit(m, decision, reason); }
      catch (e) { if (e.status !== 409) throw e; } // decided meanwhile (enough reviewers): nothing to add
    }
  } catch (e) { showError(`review: ${e.message}`); }
  await loadReviews();
}

function sightings(group) {
  if (group.length < 2) return null;
  const tracks = [...new Set(group.map((m) => m.track_id).filter(Boolean))];
  const shown = tracks.slice(0, 8).join(", ") + (tracks.length > 8 ? ", …" : "");
  return h("p", { class: "sightings" },
    `${group.length} sightings (tracks ${shown}), ${when(group[group.length - 1].occurred_at)} to ${when(group[0].occurred_at)}. ` +
    "A decision here is recorded for each of them.");
}

function card(group) {
  const m = group[0];
  const c = m.candidate || {};
  const reason = h("input", { class: "reason", placeholder: "Reason (required)", maxlength: 2000 });
  const mine = (m.reviews || []).some((r) => r.reviewer === session.me.subject);
  const all = group.length > 1 ? ` all ${group.length}` : "";
  const buttons = [
    h("button", { class: "confirm" }, `Confirm${all}`),
    h("button", { class: "reject secondary" }, `Reject${all}`),
  ];
  buttons[0].addEventListener("click", () => decide(group, "confirm", reason, buttons));
  buttons[1].addEventListener("click", () => decide(group, "reject", reason, buttons));
  const decideButtons = session.can("reviews.decide") && !mine
    ? [reason, ...buttons]
    : [h("p", { class: "note" }, mine ? "You already reviewed this match." : "Read only.")];
  return h("li", { class: "review", dataset: { matchId: m.match_id, matchIds: group.map((x) => x.match_id).join(" ") } },
    h("div", { class: "faces" }, face(m, "probe", m.probe_url, "Probe (camera)"), face(m, "enrolled", m.enrolled_url, "Enrolled")),
    h("div", { class: "review-main" },
      h("h2", {}, c.display_name || c.external_id || c.person_id || "unknown"),
      h("p", { class: "score" }, `Score ${Number(c.score || 0).toFixed(3)} — threshold ${Number(c.threshold || 0).toFixed(3)}`),
      h("p", { class: "meta" }, `${sourceLabel(m.source)}, zone ${m.zone_id || "—"}, ${when(m.occurred_at)}`),
      sightings(group),
      h("p", { class: "meta" }, `State: ${short(m.state, "MATCH_STATE_")}`),
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
    const groups = grouped(data.matches);
    for (const g of groups) list.append(card(g));
    const kept = new Set(groups.map((g) => g[0].match_id));
    for (const key of faces.keys()) if (!kept.has(key.split(":")[0])) faces.delete(key);
    $("#review-empty").hidden = data.matches.length > 0;
  } catch (e) { showError(`reviews: ${e.message}`); }
}
