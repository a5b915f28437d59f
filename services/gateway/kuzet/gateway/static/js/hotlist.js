// Hotlist management (admins): each entry says why, who asked, under what law and until when;
// taking one off needs a reason. The traffic service audits both.
import { api } from "./api.js";
import { $, clear, h, showError, when } from "./dom.js";
import { t } from "./i18n.js";

const DEFAULT_DAYS = 30;

function removeForm(entry, cell) {
  const reason = h("input", { class: "note-input remove-reason", placeholder: t("reviews.reason_placeholder"), maxlength: 500, required: true });
  const form = h("form", { class: "resolve-form", onsubmit: async (e) => {
    e.preventDefault();
    if (!reason.value.trim()) { reason.focus(); return; }
    try {
      await api(`/api/v1/traffic/hotlist/${encodeURIComponent(entry.plate)}`, { method: "DELETE", query: { reason: reason.value.trim() } });
      await loadHotlist();
    } catch (err) { showError(t("hotlist.remove_failed", { message: err.message })); }
  } },
  reason, h("button", { type: "submit", class: "remove-confirm" }, t("hotlist.remove")),
  h("button", { type: "button", class: "secondary", onclick: () => { clear(cell).append(removeButton(entry, cell)); } }, t("common.cancel")));
  clear(cell).append(form);
  reason.focus();
}

function removeButton(entry, cell) {
  return h("button", { class: "secondary remove", onclick: () => removeForm(entry, cell) }, t("hotlist.remove_ask"));
}

function row(entry) {
  const cell = h("td", {});
  cell.append(removeButton(entry, cell));
  return h("tr", { class: "hotlist-entry", dataset: { plate: entry.plate } },
    h("td", { class: "plate" }, entry.plate), h("td", {}, entry.reason), h("td", {}, entry.source),
    h("td", {}, entry.legal_basis), h("td", {}, when(entry.expires_at)),
    h("td", {}, entry.created_by || "—", entry.created_at ? h("span", { class: "note block" }, when(entry.created_at)) : null),
    cell);
}

let loads = 0;

export async function loadHotlist() {
  const mine = ++loads;
  let shown;
  try {
    const data = await api("/api/v1/traffic/hotlist", { query: { page_size: 500 } });
    shown = (data.entries || []).map(row);
    if (!shown.length) shown.push(h("tr", {}, h("td", { colspan: 7, class: "note" }, t("hotlist.empty"))));
  } catch (e) { shown = [h("tr", {}, h("td", { colspan: 7, class: "note" }, t("fleet.unavailable_because", { message: e.message })))]; }
  // Only the latest of overlapping loads is shown.
  if (mine === loads) clear($("#hotlist-rows")).append(...shown);
}

async function add(ev) {
  ev.preventDefault();
  $("#hotlist-error").textContent = "";
  const entry = {
    plate: $("#hotlist-plate").value.trim(),
    reason: $("#hotlist-reason").value.trim(),
    source: $("#hotlist-source").value.trim(),
    legal_basis: $("#hotlist-legal-basis").value.trim(),
    // The whole chosen day, in UTC.
    expires_at: `${$("#hotlist-expires").value}T23:59:59Z`,
  };
  try {
    await api("/api/v1/traffic/hotlist", { method: "POST", body: { entries: [entry] } });
    for (const id of ["#hotlist-plate", "#hotlist-reason"]) $(id).value = "";
    await loadHotlist();
  } catch (e) { $("#hotlist-error").textContent = e.message; }
}

export function startHotlist() {
  const expires = new Date(Date.now() + DEFAULT_DAYS * 86400000);
  $("#hotlist-expires").value = expires.toISOString().slice(0, 10);
  $("#hotlist-form").addEventListener("submit", add);
}
