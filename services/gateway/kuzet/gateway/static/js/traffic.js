// Traffic view: a camera's lane counts and speeds, the agency's recent hotlist hits, and (by role)
// plate search and the hotlist.
import { api, session } from "./api.js";
import { alertStore } from "./alerts.js";
import { drawCounts, drawSpeeds, laneSeries } from "./charts.js";
import { $, clear, h, showError, when } from "./dom.js";
import { t } from "./i18n.js";
import { loadHotlist, startHotlist } from "./hotlist.js";
import { startPlateSearch } from "./platesearch.js";
import { placeOf, plateCropOf, snapshotOf, trafficCameras } from "./vehicles.js";

const BIN_KMH = 10;
let started = false;

async function loadCameras() {
  const data = await api("/api/v1/traffic/cameras", { query: { page_size: 500 } });
  trafficCameras.clear();
  for (const c of data.cameras || []) trafficCameras.set(c.camera_id, c);
  const sel = $("#traffic-camera");
  const current = sel.value;
  clear(sel);
  for (const c of trafficCameras.values()) sel.append(h("option", { value: c.camera_id }, c.name || c.camera_id));
  if (trafficCameras.has(current)) sel.value = current;
  $("#traffic-no-cameras").hidden = trafficCameras.size > 0;
}

let chartLoads = 0;

async function loadCharts() {
  const camera = $("#traffic-camera").value;
  if (!camera) return;
  const mine = ++chartLoads;
  const interval = Number($("#traffic-interval").value);
  const untilS = Math.floor(Date.now() / 1000);
  const sinceS = untilS - Number($("#traffic-range").value);
  const span = { since: new Date(sinceS * 1000).toISOString(), until: new Date(untilS * 1000).toISOString() };
  const path = `/api/v1/traffic/cameras/${encodeURIComponent(camera)}`;
  const [counts, speeds] = await Promise.all([
    api(`${path}/counts`, { query: { ...span, interval_s: interval } }),
    api(`${path}/speeds`, { query: { ...span, bin_kmh: BIN_KMH } }),
  ]);
  if (mine !== chartLoads) return; // a later load (another camera or range) answers instead
  const series = laneSeries(counts.counts || [], sinceS, untilS, interval);
  drawCounts($("#traffic-counts"), series);
  $("#traffic-counts-total").textContent = series.lines.length
    ? t("traffic.vehicles_in_range", { lanes: series.lines.map((s) => t("traffic.lane_total", { lane: s.lane, line: s.line, n: s.total })).join(" · ") })
    : t("traffic.no_vehicles");
  drawSpeeds($("#traffic-speeds"), speeds.bins || [], Number(speeds.bin_kmh) || BIN_KMH);
  const measured = Number(speeds.measured) || 0;
  $("#traffic-speed-stats").textContent = measured
    ? t("traffic.speed_stats", { n: measured, median: Number(speeds.median_kmh).toFixed(0),
      p85: Number(speeds.p85_kmh).toFixed(0), speeding: Number(speeds.speeding) || 0 })
    : t("traffic.no_speeds");
}

function hitRow(hit) {
  const obs = hit.observation || {};
  const entry = hit.entry || {};
  const exact = hit.match === "exact";
  return h("tr", { class: `hit hit-${hit.match || "unknown"}`, dataset: { plate: obs.plate || "" } },
    h("td", { class: "hit-images" }, snapshotOf(obs), plateCropOf(obs)),
    h("td", { class: "plate" }, obs.plate || "—",
      entry.plate && entry.plate !== obs.plate ? h("span", { class: "note" }, ` ${t("traffic.listed_as", { plate: entry.plate })}`) : null),
    h("td", {}, h("span", { class: `pill ${exact ? "offline" : ""}` }, exact ? t("traffic.exact") : t("traffic.fuzzy"))),
    h("td", {}, entry.reason || "—", entry.source ? h("span", { class: "note block" }, entry.source) : null),
    h("td", {}, placeOf(obs)),
    h("td", {}, when(obs.observed_at)));
}

let hitLoads = 0;

export async function loadHits() {
  const mine = ++hitLoads;
  let shown;
  try {
    const data = await api("/api/v1/traffic/hotlist-hits", { query: { page_size: 50 } });
    shown = (data.hits || []).map(hitRow);
    if (!shown.length) shown.push(h("tr", {}, h("td", { colspan: 6, class: "note" }, t("traffic.no_hits"))));
  } catch (e) { shown = [h("tr", {}, h("td", { colspan: 6, class: "note" }, t("fleet.unavailable_because", { message: e.message })))]; }
  // Loads overlap when hits arrive on the feed: only the latest one is shown.
  if (mine === hitLoads) clear($("#traffic-hits")).append(...shown);
}

async function refresh() {
  try { await loadCharts(); } catch (e) { showError(t("traffic.load_failed", { message: e.message })); }
}

// A plate_hotlist alert on the live feed means a new hit: the list follows it while it is shown.
let hotlistAlerts = "";
alertStore.onChange(() => {
  const now = alertStore.all().filter((a) => a.type === "plate_hotlist").map((a) => `${a.alert_id}:${a.count}`).sort().join(",");
  if (now === hotlistAlerts) return;
  hotlistAlerts = now;
  if (!$("#view-traffic").hidden) { loadHits(); refresh(); }
});

function start() {
  if (started) return;
  started = true;
  for (const id of ["#traffic-camera", "#traffic-interval", "#traffic-range"]) $(id).addEventListener("change", refresh);
  $("#traffic-refresh").addEventListener("click", () => { refresh(); loadHits(); });
  startPlateSearch();
  startHotlist();
}

export async function loadTraffic() {
  start();
  // What a role may not do, it does not see (the gateway refuses it anyway).
  $("#plate-search").hidden = !session.can("plates.search");
  $("#hotlist-admin").hidden = !session.can("traffic.admin");
  try { await loadCameras(); } catch (e) { showError(t("traffic.cameras_failed", { message: e.message })); }
  await Promise.all([refresh(), loadHits(), session.can("traffic.admin") ? loadHotlist() : null]);
}
