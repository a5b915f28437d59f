// Review queue: the probe face next to the enrolled face, score against threshold, and what
// other reviewers already decided. Each reviewer counts once; the server enforces it.
import { api, session } from "./api.js";
import { $, clear, h, short, showError, when } from "./dom.js";

function face(url, label) {
  return h("figure", { class: "face" },
    url ? h("img", { src: url, alt: label }) : h("div", { class: "thumb none" }, "no image"),
    h("figcaption", {}, label));
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

async function decide(m, decision, reasonInput) {
  const reason = reasonInput.value.trim();
  if (!reason) { reasonInput.focus(); showError("A reason is required."); return; }
  try {
    await api(`/api/v1/reviews/${encodeURIComponent(m.match_id)}`, { method: "POST", body: { decision, reason } });
    await loadReviews();
  } catch (e) { showError(`review: ${e.message}`); }
}

function card(m) {
  const c = m.candidate || {};
  const reason = h("input", { class: "reason", placeholder: "Reason (required)", maxlength: 2000 });
  const mine = (m.reviews || []).some((r) => r.reviewer === session.me.subject);
  const decideButtons = session.can("reviews.decide") && !mine
    ? [reason,
       h("button", { class: "confirm", onclick: () => decide(m, "confirm", reason) }, "Confirm"),
       h("button", { class: "reject secondary", onclick: () => decide(m, "reject", reason) }, "Reject")]
    : [h("p", { class: "note" }, mine ? "You already reviewed this match." : "Read only.")];
  return h("li", { class: "review", dataset: { matchId: m.match_id } },
    h("div", { class: "faces" }, face(m.probe_url, "Probe (camera)"), face(m.enrolled_url, "Enrolled")),
    h("div", { class: "review-main" },
      h("h2", {}, c.display_name || c.external_id || c.person_id || "unknown"),
      h("p", { class: "score" }, `Score ${Number(c.score || 0).toFixed(3)} — threshold ${Number(c.threshold || 0).toFixed(3)}`),
      h("p", { class: "meta" }, `${sourceLabel(m.source)}, zone ${m.zone_id || "—"}, ${when(m.occurred_at)}`),
      h("p", { class: "meta" }, `State: ${short(m.state, "MATCH_STATE_")}`),
      reviewsLine(m),
      h("div", { class: "actions" }, decideButtons)));
}

export async function loadReviews() {
  try {
    const data = await api("/api/v1/reviews", { query: { page_size: 100 } });
    // Clear after the answer, not before: two loads in flight would otherwise both append.
    const list = clear($("#review-list"));
    for (const m of data.matches) list.append(card(m));
    $("#review-empty").hidden = data.matches.length > 0;
  } catch (e) { showError(`reviews: ${e.message}`); }
}
