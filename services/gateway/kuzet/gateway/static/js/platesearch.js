// Plate search: where and when a plate was seen. A plate is personal data, so a search needs its
// purpose, which the traffic service records with the search.
import { api } from "./api.js";
import { $, clear, h, when } from "./dom.js";
import { placeOf, snapshotOf } from "./vehicles.js";

function row(obs) {
  const speed = Number(obs.speed_kmh) ? `${Number(obs.speed_kmh).toFixed(0)} km/h${obs.speeding ? " (above limit)" : ""}` : "—";
  return h("tr", { class: "plate-result", dataset: { plate: obs.plate || "" } },
    h("td", {}, snapshotOf(obs)),
    h("td", {}, when(obs.observed_at)),
    h("td", { class: "plate" }, obs.plate || "—", obs.plate_raw && obs.plate_raw !== obs.plate ? h("span", { class: "note" }, ` (${obs.plate_raw})`) : null),
    h("td", {}, placeOf(obs)),
    h("td", {}, obs.vehicle_class || "—"),
    h("td", {}, speed));
}

async function search(ev) {
  ev.preventDefault();
  const error = $("#plate-search-error");
  const plate = $("#plate-search-plate").value.trim();
  const purpose = $("#plate-search-purpose").value.trim();
  error.textContent = "";
  if (!plate) { error.textContent = "Enter a plate."; $("#plate-search-plate").focus(); return; }
  if (!purpose) {
    error.textContent = "A purpose is required: say why you search (a case number or request); it is recorded.";
    $("#plate-search-purpose").focus();
    return;
  }
  const button = $("#plate-search-button");
  button.disabled = true;
  try {
    const data = await api("/api/v1/traffic/plate-searches", {
      method: "POST", query: { page_size: 200 }, body: { plate, purpose, fuzzy: $("#plate-search-fuzzy").checked },
    });
    const found = data.observations || [];
    const rows = clear($("#plate-search-rows"));
    for (const obs of found) rows.append(row(obs));
    $("#plate-search-table").hidden = found.length === 0;
    $("#plate-search-note").textContent =
      `${found.length ? `${found.length} sighting${found.length === 1 ? "" : "s"}` : "Not seen"}. ` +
      `The search is on record (audit ${data.audit_id}).`;
  } catch (e) { error.textContent = e.message; } finally { button.disabled = false; }
}

export function startPlateSearch() { $("#plate-search-form").addEventListener("submit", search); }
