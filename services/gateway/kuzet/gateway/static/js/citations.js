// Citations: the agency's e-citations by status, one citation's history, and the moves the
// gateway says this user may make (badge decides and audits each; a reason is asked where needed).
import { api } from "./api.js";
import { $, clear, h, short, showError, when } from "./dom.js";
import { label, t } from "./i18n.js";

const STATUSES = ["", "issued", "contested", "upheld", "paid", "voided"];
const LABELS = { pay: "citations.pay", contest: "citations.contest", uphold: "citations.uphold", void: "citations.void" };
const REASON_HINT = { pay: "citations.hint_pay", contest: "citations.hint_contest", uphold: "citations.hint_uphold", void: "citations.hint_void" };
const actionLabel = (a) => (LABELS[a] ? t(LABELS[a]) : a);
let built = false;

const status = (s) => short(s, "CITATION_STATUS_");
const statusText = (s) => label("citation_status", status(s));

function build() {
  const view = clear($("#view-citations"));
  view.append(
    h("div", { class: "toolbar" }, h("h1", {}, t("citations.title")),
      h("label", {}, `${t("citations.status")} `, h("select", { id: "citation-status" }, STATUSES.map((s) => h("option", { value: s }, s ? label("citation_status", s) : t("citations.all"))))),
      h("label", {}, `${t("citations.plate")} `, h("input", { id: "citation-plate", maxlength: 32 }))),
    h("table", { class: "grid" },
      h("thead", {}, h("tr", {}, ["citations.occurred", "citations.offence", "citations.person_vehicle", "citations.officer", "citations.status"].map((k) => h("th", {}, t(k))))),
      h("tbody", { id: "citation-rows" })),
    h("p", { id: "citation-empty", class: "note", hidden: true }, t("citations.none")),
    h("section", { id: "citation-detail", class: "record-detail", hidden: true }));
  $("#citation-status").addEventListener("change", () => loadCitations().catch((e) => showError(e.message)));
  $("#citation-plate").addEventListener("change", () => loadCitations().catch((e) => showError(e.message)));
  built = true;
}

export async function loadCitations() {
  if (!built) build();
  const data = await api("/api/v1/citations", { query: { status: $("#citation-status").value, vehicle_plate: $("#citation-plate").value.trim(), page_size: 200 } });
  const rows = clear($("#citation-rows"));
  for (const c of data.citations || []) {
    rows.append(h("tr", { class: "clickable", dataset: { citation: c.citation_id }, onclick: () => showCitation(c) },
      h("td", {}, when(c.occurred_at)),
      h("td", {}, `${c.offence_code} ${c.offence_description || ""}`),
      h("td", {}, [c.person?.full_name, c.vehicle?.plate].filter(Boolean).join(" · ")),
      h("td", {}, c.officer_id || "—"),
      h("td", {}, h("span", { class: `pill citation-${status(c.status)}` }, statusText(c.status)))));
  }
  $("#citation-empty").hidden = (data.citations || []).length > 0;
}

function showCitation(c) {
  const box = clear($("#citation-detail"));
  const evidence = c.evidence_ids || [];
  box.hidden = false;
  box.append(
    h("h2", {}, t("citations.citation", { id: c.citation_id })),
    h("p", {}, `${c.offence_code} ${c.offence_description || ""} · ${statusText(c.status)} · ` +
      t("citations.badge_unit", { badge: c.badge_id || "—", unit: c.unit_id || "—" })),
    h("p", { class: "note", hidden: !evidence.length }, t("citations.evidence", { ids: evidence.join(", ") })),
    h("h3", {}, t("detail.history")),
    h("ol", { class: "citation-history" }, (c.history || []).map((s) =>
      h("li", {}, `${when(s.at)} · ${s.from_status === "CITATION_STATUS_UNSPECIFIED" ? t("citations.new") : statusText(s.from_status)} → ${statusText(s.to_status)} · ${s.actor}${s.reason ? ` · “${s.reason}”` : ""}`))));
  if (!c.actions.length) {
    const final = ["CITATION_STATUS_PAID", "CITATION_STATUS_VOIDED"].includes(c.status);
    box.append(h("p", { class: "note" }, final ? t("citations.final") : t("citations.not_yours")));
    return;
  }
  const reason = h("input", { id: "citation-reason", class: "wide", maxlength: 2000 });
  const error = h("p", { id: "citation-error", class: "error", role: "alert" });
  box.append(h("h3", {}, t("citations.next_step")), h("label", {}, `${t("citations.reason")} `, reason),
    h("div", { class: "buttons" }, c.actions.map((a) => h("button", {
      dataset: { action: a.action }, class: a.action === "void" ? "danger" : undefined,
      onclick: () => move(c, a, reason, error),
    }, actionLabel(a.action)))), error);
  reason.placeholder = c.actions.map((a) => (REASON_HINT[a.action] ? t(REASON_HINT[a.action]) : "")).join(" / ");
}

async function move(c, a, reason, error) {
  const text = reason.value.trim();
  error.textContent = "";
  if (a.reason_required && !text) { error.textContent = t("citations.needs_reason", { action: actionLabel(a.action), hint: REASON_HINT[a.action] ? t(REASON_HINT[a.action]) : "" }); reason.focus(); return; }
  try {
    const done = await api(`/api/v1/citations/${encodeURIComponent(c.citation_id)}/${a.action}`, { method: "POST", body: { reason: text } });
    showCitation(done.citation);
    await loadCitations();
  } catch (e) { error.textContent = e.message; }
}
