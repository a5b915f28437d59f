// Evidence: an investigator's view of badge recordings per badge, case or incident, each item's
// chain of custody, and an export whose manifest and stored bytes were re-checked.
import { api, session } from "./api.js";
import { $, clear, h, short, showError, when } from "./dom.js";
import { label, t } from "./i18n.js";
import { download } from "./tables.js";

let built = false;
let shown = null; // the item whose custody is open: an export adds steps to it
const action = (a) => short(a, "CUSTODY_ACTION_");
const hash = (x) => (x ? `${x.slice(0, 12)}…` : "");

function build() {
  const view = clear($("#view-evidence"));
  const filter = (id, key) => h("label", {}, `${t(key)} `, h("input", { id, maxlength: 128 }));
  view.append(
    h("form", { id: "evidence-filter", class: "toolbar" }, h("h1", {}, t("evidence.title")),
      filter("evidence-badge", "evidence.badge"), filter("evidence-incident", "evidence.incident"), filter("evidence-case", "evidence.case"),
      h("button", { type: "submit", class: "secondary" }, t("evidence.show"))),
    h("table", { class: "grid" },
      h("thead", {}, h("tr", {}, ["", t("evidence.captured"), t("evidence.badge"), t("evidence.officer"), t("evidence.category"), t("evidence.incident"),
        t("evidence.case"), t("evidence.status"), "SHA-256"].map((x) => h("th", {}, x)))),
      h("tbody", { id: "evidence-rows" })),
    h("p", { id: "evidence-empty", class: "note", hidden: true }, t("evidence.none")),
    h("section", { id: "evidence-custody", class: "record-detail", hidden: true }),
    h("section", { id: "evidence-export", class: "record-detail", hidden: !session.can("evidence.export") },
      h("h2", {}, t("evidence.export_title")),
      h("form", { id: "evidence-export-form", class: "inline-form" },
        h("label", {}, `${t("evidence.recipient")} `, h("input", { id: "export-recipient", required: true, maxlength: 500, placeholder: t("evidence.recipient_hint") })),
        h("label", {}, `${t("evidence.reason")} `, h("input", { id: "export-reason", class: "wide", required: true, maxlength: 500, placeholder: t("evidence.reason_hint") })),
        h("button", { type: "submit", id: "export-button" }, t("evidence.export"))),
      h("p", { id: "export-error", class: "error", role: "alert" }),
      h("div", { id: "export-result" })));
  $("#evidence-filter").addEventListener("submit", (ev) => { ev.preventDefault(); loadEvidence().catch((e) => showError(e.message)); });
  $("#evidence-export-form").addEventListener("submit", (ev) => { ev.preventDefault(); exportSelected(); });
  built = true;
}

let asked = 0; // the latest listing asked for

export async function loadEvidence() {
  if (!built) build();
  const mine = ++asked;
  const data = await api("/api/v1/evidence-items", { query: {
    badge_id: $("#evidence-badge").value.trim(), incident_id: $("#evidence-incident").value.trim(),
    case_id: $("#evidence-case").value.trim(), page_size: 200,
  } });
  // A slower answer to an earlier filter must not replace the one the user asked for last.
  if (mine !== asked) return;
  const rows = clear($("#evidence-rows"));
  for (const e of data.evidence || []) {
    rows.append(h("tr", { class: "clickable", dataset: { evidence: e.evidence_id }, onclick: (ev) => { if (ev.target.type !== "checkbox") showCustody(e); } },
      h("td", {}, h("input", { type: "checkbox", class: "evidence-pick", value: e.evidence_id, "aria-label": t("evidence.select", { id: e.evidence_id }) })),
      h("td", {}, when(e.captured_at)), h("td", {}, e.badge_id), h("td", {}, e.officer_id || "—"), h("td", {}, e.category),
      h("td", {}, e.incident_id || "—"), h("td", {}, e.case_id || "—"), h("td", {}, label("evidence_status", short(e.status, "EVIDENCE_STATUS_").replace(/ /g, "_"))),
      h("td", { class: "mono", title: e.object?.sha256 || "" }, hash(e.object?.sha256))));
  }
  $("#evidence-empty").hidden = (data.evidence || []).length > 0;
}

async function showCustody(e) {
  shown = e;
  const box = clear($("#evidence-custody"));
  box.hidden = false;
  const data = await api(`/api/v1/evidence-items/${encodeURIComponent(e.evidence_id)}/custody`);
  box.append(h("h2", {}, t("evidence.custody_of", { id: e.evidence_id })),
    h("p", { id: "custody-chain", class: data.chain_ok ? "ok" : "bad" }, data.chain_ok ? t("evidence.chain_ok") : t("evidence.chain_broken")),
    h("table", { class: "grid" },
      h("thead", {}, h("tr", {}, ["#", t("evidence.when"), t("evidence.action"), t("evidence.actor"), t("evidence.agency"), t("evidence.object_sha"),
        t("evidence.record_hash")].map((x) => h("th", {}, x)))),
      h("tbody", { id: "custody-rows" }, (data.records || []).map((r) => h("tr", {},
        h("td", {}, r.seq), h("td", {}, when(r.at)), h("td", {}, label("custody_action", action(r.action).replace(/ /g, "_"))), h("td", {}, r.actor),
        h("td", {}, r.actor_agency_id), h("td", { class: "mono" }, hash(r.object_sha256)), h("td", { class: "mono", title: r.hash }, hash(r.hash)))))));
}

async function exportSelected() {
  const ids = [...document.querySelectorAll(".evidence-pick:checked")].map((c) => c.value);
  const error = $("#export-error");
  error.textContent = "";
  if (!ids.length) { error.textContent = t("evidence.select_first"); return; }
  try {
    const out = await api("/api/v1/evidence-exports", { method: "POST", body: {
      evidence_ids: ids, recipient: $("#export-recipient").value.trim(), reason: $("#export-reason").value.trim(),
    } });
    const result = clear($("#export-result"));
    result.append(
      h("p", { id: "export-verdict", class: out.verified ? "ok" : "bad" }, out.verified
        ? t("evidence.verified", { n: out.verification.length })
        : t("evidence.not_verified")),
      h("p", { class: "mono" }, t("evidence.export_line", { id: out.export_id, sha: out.manifest_sha256 })),
      h("ul", { id: "export-items" }, out.verification.map((r) => h("li", { class: r.ok ? "ok" : "bad" },
        `${r.evidence_id}: ${r.ok ? t("evidence.matches") : t("evidence.mismatch", { reason: r.reason })} (${hash(r.expected_sha256)})`))),
      h("button", { id: "export-manifest", class: "secondary", onclick: () => download(`export-${out.export_id}-manifest.txt`, out.manifest, "text/plain") }, t("evidence.download_manifest")));
    if (shown && ids.includes(shown.evidence_id)) await showCustody(shown);
  } catch (e) { error.textContent = e.message; }
}
