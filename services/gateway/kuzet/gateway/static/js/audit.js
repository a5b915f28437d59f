// Audit trails for auditors: list one service's records, verify every keyed hash chain and its anchor.
import { api } from "./api.js";
import { $, clear, h, showError } from "./dom.js";

let nextToken = "";

export async function loadAudit(more = false) {
  const rows = $("#audit-rows");
  if (!more) { clear(rows); nextToken = ""; }
  try {
    const data = await api("/api/v1/audit", { query: {
      service: $("#audit-service").value, action_prefix: $("#audit-action").value, page_size: 100, page_token: nextToken } });
    for (const r of data.records) {
      rows.append(h("tr", {}, h("td", {}, r.seq), h("td", {}, r.recorded_at), h("td", {}, r.actor),
        h("td", {}, r.action), h("td", {}, r.target), h("td", {}, r.outcome)));
    }
    nextToken = (data.page && data.page.next_page_token) || "";
    $("#audit-more").hidden = !nextToken;
  } catch (e) { showError(`audit: ${e.message}`); }
}

// Where each trail's head is anchored outside the database, and whether object lock keeps it.
function anchorNote(res) {
  const a = res.latest_anchor;
  const where = a ? `; head anchored at record ${a.seq} (${a.anchored_at})` : "; not anchored yet";
  const store = res.anchor_store ? ` in ${res.anchor_store}` : "";
  const legacy = Number(res.legacy_records) ? `; ${res.legacy_records} legacy unkeyed records` : "";
  return `${where}${store}${legacy}`;
}

async function verify() {
  const out = clear($("#audit-verify-results"));
  out.append(h("li", {}, "Verifying…"));
  try {
    const data = await api("/api/v1/audit/verify", { method: "POST" });
    clear(out);
    for (const r of data.results) {
      if (r.error) out.append(h("li", { class: "warn" }, `${r.service}: unavailable (${r.error.message})`));
      else if (r.result.ok) out.append(h("li", { class: "ok" }, `${r.service}: intact, ${r.result.records_checked} records${anchorNote(r.result)}`));
      else out.append(h("li", { class: "bad" }, `${r.service}: BROKEN at record ${r.result.first_bad_seq} — ${r.result.reason}`));
    }
  } catch (e) { clear(out); showError(`verify: ${e.message}`); }
}

document.addEventListener("DOMContentLoaded", () => {
  $("#audit-service").addEventListener("change", () => loadAudit());
  $("#audit-action").addEventListener("change", () => loadAudit());
  $("#audit-more").addEventListener("click", () => loadAudit(true));
  $("#audit-verify").addEventListener("click", verify);
});
