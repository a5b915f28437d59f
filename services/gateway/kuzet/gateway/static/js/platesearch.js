// Plate search: where and when a plate was seen. A plate is personal data, so a search needs its
// purpose, which the traffic service records with the search.
import { api } from "./api.js";
import { $, clear, h, when } from "./dom.js";
import { t } from "./i18n.js";
import { placeOf, snapshotOf } from "./vehicles.js";

function row(obs) {
  const speed = Number(obs.speed_kmh) ? t(obs.speeding ? "plates.speed_above" : "plates.speed", { v: Number(obs.speed_kmh).toFixed(0) }) : "—";
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
  if (!plate) { error.textContent = t("plates.enter_plate"); $("#plate-search-plate").focus(); return; }
  if (!purpose) {
    error.textContent = t("plates.purpose_required");
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
      `${found.length ? t("plates.sightings", { n: found.length }) : t("plates.not_seen")}. ` +
      t("plates.on_record", { audit: data.audit_id });
  } catch (e) { error.textContent = e.message; } finally { button.disabled = false; }
}

export function startPlateSearch() { $("#plate-search-form").addEventListener("submit", search); }
