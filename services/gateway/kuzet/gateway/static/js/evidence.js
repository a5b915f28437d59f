// Evidence: an investigator's view of badge recordings per badge, case or incident, each item's
// chain of custody, and an export whose manifest and stored bytes were re-checked.
import { api, session } from "./api.js";
import { $, clear, h, short, showError, when } from "./dom.js";
import { download } from "./tables.js";

let built = false;
let shown = null; // the item whose custody is open: an export adds steps to it
const action = (a) => short(a, "CUSTODY_ACTION_");
const hash = (x) => (x ? `${x.slice(0, 12)}…` : "");

function build() {
  const view = clear($("#view-evidence"));
  const filter = (id, label) => h("label", {}, `${label} `, h("input", { id, maxlength: 128 }));
  view.append(
    h("form", { id: "evidence-filter", class: "toolbar" }, h("h1", {}, "Evidence"),
      filter("evidence-badge", "Badge"), filter("evidence-incident", "Incident"), filter("evidence-case", "Case"),
      h("button", { type: "submit", class: "secondary" }, "Show")),
    h("table", { class: "grid" },
      h("thead", {}, h("tr", {}, ["", "Captured", "Badge", "Officer", "Category", "Incident", "Case", "Status", "SHA-256"].map((t) => h("th", {}, t)))),
      h("tbody", { id: "evidence-rows" })),
    h("p", { id: "evidence-empty", class: "note", hidden: true }, "No evidence."),
    h("section", { id: "evidence-custody", class: "record-detail", hidden: true }),
    h("section", { id: "evidence-export", class: "record-detail", hidden: !session.can("evidence.export") },
      h("h2", {}, "Export the selected items"),
      h("form", { id: "evidence-export-form", class: "inline-form" },
        h("label", {}, "Recipient ", h("input", { id: "export-recipient", required: true, maxlength: 500, placeholder: "court, prosecutor" })),
        h("label", {}, "Reason ", h("input", { id: "export-reason", class: "wide", required: true, maxlength: 500, placeholder: "case number (required)" })),
        h("button", { type: "submit", id: "export-button" }, "Export and verify")),
      h("p", { id: "export-error", class: "error", role: "alert" }),
      h("div", { id: "export-result" })));
  $("#evidence-filter").addEventListener("submit", (ev) => { ev.preventDefault(); loadEvidence().catch((e) => showError(e.message)); });
  $("#evidence-export-form").addEventListener("submit", (ev) => { ev.preventDefault(); exportSelected(); });
  built = true;
}

export async function loadEvidence() {
  if (!built) build();
  const data = await api("/api/v1/evidence-items", { query: {
    badge_id: $("#evidence-badge").value.trim(), incident_id: $("#evidence-incident").value.trim(),
    case_id: $("#evidence-case").value.trim(), page_size: 200,
  } });
  const rows = clear($("#evidence-rows"));
  for (const e of data.evidence || []) {
    rows.append(h("tr", { class: "clickable", dataset: { evidence: e.evidence_id }, onclick: (ev) => { if (ev.target.type !== "checkbox") showCustody(e); } },
      h("td", {}, h("input", { type: "checkbox", class: "evidence-pick", value: e.evidence_id, "aria-label": `select ${e.evidence_id}` })),
      h("td", {}, when(e.captured_at)), h("td", {}, e.badge_id), h("td", {}, e.officer_id || "—"), h("td", {}, e.category),
      h("td", {}, e.incident_id || "—"), h("td", {}, e.case_id || "—"), h("td", {}, short(e.status, "EVIDENCE_STATUS_")),
      h("td", { class: "mono", title: e.object?.sha256 || "" }, hash(e.object?.sha256))));
  }
  $("#evidence-empty").hidden = (data.evidence || []).length > 0;
}

async function showCustody(e) {
  shown = e;
  const box = clear($("#evidence-custody"));
  box.hidden = false;
  const data = await api(`/api/v1/evidence-items/${encodeURIComponent(e.evidence_id)}/custody`);
  box.append(h("h2", {}, `Chain of custody of ${e.evidence_id}`),
    h("p", { id: "custody-chain", class: data.chain_ok ? "ok" : "bad" }, data.chain_ok ? "Chain intact: every record links to the one before." : "Chain BROKEN: a record was changed or removed."),
    h("table", { class: "grid" },
      h("thead", {}, h("tr", {}, ["#", "When", "Action", "Actor", "Agency", "Object SHA-256", "Record hash"].map((t) => h("th", {}, t)))),
      h("tbody", { id: "custody-rows" }, (data.records || []).map((r) => h("tr", {},
        h("td", {}, r.seq), h("td", {}, when(r.at)), h("td", {}, action(r.action)), h("td", {}, r.actor),
        h("td", {}, r.actor_agency_id), h("td", { class: "mono" }, hash(r.object_sha256)), h("td", { class: "mono", title: r.hash }, hash(r.hash)))))));
}

async function exportSelected() {
  const ids = [...document.querySelectorAll(".evidence-pick:checked")].map((c) => c.value);
  const error = $("#export-error");
  error.textContent = "";
  if (!ids.length) { error.textContent = "Select the items to export first."; return; }
  try {
    const out = await api("/api/v1/evidence-exports", { method: "POST", body: {
      evidence_ids: ids, recipient: $("#export-recipient").value.trim(), reason: $("#export-reason").value.trim(),
    } });
    const result = clear($("#export-result"));
    result.append(
      h("p", { id: "export-verdict", class: out.verified ? "ok" : "bad" }, out.verified
        ? `Verified: the manifest matches its SHA-256 and all ${out.verification.length} stored objects match their recorded hashes.`
        : "NOT verified: see the items below."),
      h("p", { class: "mono" }, `Export ${out.export_id} · manifest SHA-256 ${out.manifest_sha256}`),
      h("ul", { id: "export-items" }, out.verification.map((r) => h("li", { class: r.ok ? "ok" : "bad" },
        `${r.evidence_id}: ${r.ok ? "matches" : `MISMATCH ${r.reason}`} (${hash(r.expected_sha256)})`))),
      h("button", { id: "export-manifest", class: "secondary", onclick: () => download(`export-${out.export_id}-manifest.txt`, out.manifest, "text/plain") }, "Download manifest"));
    if (shown && ids.includes(shown.evidence_id)) await showCustody(shown);
  } catch (e) { error.textContent = e.message; }
}
