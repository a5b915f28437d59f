// Search the facilities (at a hub): a face searched in each facility's own galleries. The search
// needs its purpose, which the hub and every facility searched record with it.
import { api } from "./api.js";
import { $, clear, h } from "./dom.js";
import { t } from "./i18n.js";

const base64Of = (file) => new Promise((done, fail) => {
  const reader = new FileReader();
  reader.onload = () => done(String(reader.result).split(",", 2)[1] || "");
  reader.onerror = () => fail(reader.error);
  reader.readAsDataURL(file);
});

function outcome(result) {
  if (result.status === "SITE_STATUS_UNREACHABLE") return t("sites_search.unreachable");
  if (result.status === "SITE_STATUS_FAILED") return t("sites_search.failed", { message: result.message || "" });
  return (result.candidates || []).length ? t("sites_search.found") : t("sites_search.none");
}

function rows(result) {
  const cls = `site-result ${result.status === "SITE_STATUS_OK" ? "ok" : "not-searched"}`;
  const found = result.candidates || [];
  if (!found.length) {
    return [h("tr", { class: cls, dataset: { site: result.site } },
      h("td", {}, result.site), h("td", {}, outcome(result)), h("td", {}, "—"), h("td", {}, "—"))];
  }
  return found.map((c) => {
    const score = Number(c.score || 0).toFixed(3);
    const who = [c.external_id, c.display_name].filter(Boolean).join(" · ") || c.person_id;
    return h("tr", { class: cls, dataset: { site: result.site, person: c.person_id } },
      h("td", {}, result.site), h("td", {}, outcome(result)), h("td", {}, who),
      h("td", {}, c.above_threshold ? t("sites_search.above", { score }) : score));
  });
}

async function search(ev) {
  ev.preventDefault();
  const error = $("#site-search-error");
  const file = $("#site-search-photo").files[0];
  const purpose = $("#site-search-purpose").value.trim();
  const sites = $("#site-search-sites").value.split(/[\s,]+/).filter(Boolean);
  error.textContent = "";
  if (!file) { error.textContent = t("sites_search.photo_required"); $("#site-search-photo").focus(); return; }
  if (!purpose) {
    error.textContent = t("sites_search.purpose_required");
    $("#site-search-purpose").focus();
    return;
  }
  const button = $("#site-search-button");
  button.disabled = true;
  try {
    const image = await base64Of(file);
    const data = await api("/api/v1/federation/searches", { method: "POST", body: { image, purpose, sites } });
    const body = clear($("#site-search-rows"));
    for (const result of data.results || []) body.append(...rows(result));
    $("#site-search-table").hidden = !(data.results || []).length;
    $("#site-search-note").textContent = t("sites_search.on_record", { seq: data.audit_seq });
  } catch (e) { error.textContent = e.message; } finally { button.disabled = false; }
}

let started = false;

export function loadSiteSearch() {
  if (started) return;
  started = true;
  $("#site-search-form").addEventListener("submit", search);
}
