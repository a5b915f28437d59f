// The live operational map: site plans (geofences, no-fly zones, protected areas, cameras), badges
// and drones moving live (the /ws/fleet feed) with the mission each flying drone flies, alerts where
// they happened. Leaflet is vendored (window.L). Badges and
// drones are drawn on one canvas (hundreds of markers moving every second); zones, alerts and
// plans are SVG so they can be styled and clicked.
import { api, session } from "./api.js";
import { alertStore } from "./alerts.js";
import { $, clear, h, short, showError } from "./dom.js";
// `t` is a drone's telemetry in this module.
import { label, t as tr } from "./i18n.js";

const L = window.L;
const TRAIL_POINTS = 300;
const LAYERS = ["zones", "areas", "cameras", "badges", "drones", "alerts", "plans"];
// How each kind of protected area is drawn, and what its tooltip says.
const AREA_KINDS = {
  PROTECTED_AREA_KIND_RESERVE: { css: "reserve", key: "map.area_reserve", color: "#f59e0b" },
  PROTECTED_AREA_KIND_NO_FISHING: { css: "no-fishing", key: "map.area_no_fishing", color: "#0ea5e9" },
  PROTECTED_AREA_KIND_FOREST_BLOCK: { css: "forest-block", key: "map.area_forest_block", color: "#15803d" },
};

const state = {
  map: null, canvas: null, layers: {}, socket: null, retry: 0, agency: "",
  badges: new Map(), drones: new Map(), droneSites: new Map(), cameras: [], zones: [], areas: [], alertMarks: new Map(),
  // Mission paths drawn (dispatch) before the feed has reported the drone.
  pending: new Map(),
  selected: null, autoFit: true, fittedCount: 0, frames: 0, updates: 0, listeners: new Set(),
};

// For the browser tests and bench/console.py: what the map shows, read-only.
window.kuzetMap = {
  position: (kind, id) => {
    const m = (kind === "badge" ? state.badges : state.drones).get(id);
    if (!m) return null;
    const p = m.marker.getLatLng();
    return [p.lat, p.lng];
  },
  // Where a place is on the screen, in page pixels (to click it).
  pixel: (lat, lon) => {
    const p = state.map.latLngToContainerPoint([lat, lon]);
    const r = state.map.getContainer().getBoundingClientRect();
    return [r.left + p.x, r.top + p.y];
  },
  // Markers a layer shows now (0 when the layer is switched off).
  shown: (name) => (state.map.hasLayer(state.layers[name]) ? state.layers[name].getLayers().length : 0),
  view: () => ({ center: state.map.getCenter(), zoom: state.map.getZoom(), size: state.map.getSize() }),
  counts: () => ({ badges: state.badges.size, drones: state.drones.size, frames: state.frames, updates: state.updates }),
};

export const fleetMap = {
  get map() { return state.map; },
  drone: (id) => state.drones.get(id),
  droneIds: () => [...state.drones.keys()].sort(),
  layer: (name) => state.layers[name],
  select: (id) => selectDrone(id),
  selected: () => state.selected,
  onDrone: (fn) => state.listeners.add(fn),
  showMission: (id, plan) => showMission(id, plan),
};

// Leaflet sets a string tooltip as markup: names and summaries come from devices and people, so
// tooltips are always text in an element.
const tip = (text) => h("span", {}, text);

function visible(name) { const box = $(`#live-layer-${name}`); return !box || box.checked; }

// A drone without a site (agency-wide) stays on the map whatever the site filter, like anything
// else without one.
function matches(item) {
  const agency = $("#live-agency").value, site = $("#live-site").value;
  return (!agency || !item.agency || item.agency === agency) && (!site || !item.site || item.site === site);
}

function showLayers() {
  for (const name of LAYERS) {
    const layer = state.layers[name];
    if (visible(name)) layer.addTo(state.map); else layer.remove();
  }
}

async function ensureMap() {
  if (state.map) return;
  const cfg = await api("/api/v1/config").catch(() => ({}));
  const map = L.map("live-map", { preferCanvas: false, zoomControl: true, attributionControl: true, worldCopyJump: false });
  state.canvas = L.canvas({ padding: 0.2 });
  state.map = map;
  const base = cfg.map || {};
  if (base.tile_url) {
    // Leaflet shows the attribution as markup: the configured text is escaped to stay text.
    const attribution = (base.attribution || "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
    L.tileLayer(base.tile_url, { maxZoom: base.max_zoom || 19, attribution }).addTo(map);
    $("#live-base").textContent = tr("map.base_tiles");
  } else {
    map.getContainer().classList.add("no-tiles");
    $("#live-base").textContent = tr("map.base_plans");
  }
  map.setView([0, 0], 2);
  map.on("dragstart", () => { state.autoFit = false; });
  map.getContainer().addEventListener("wheel", () => { state.autoFit = false; }, { passive: true });
  for (const b of map.getContainer().querySelectorAll(".leaflet-control-zoom a")) b.addEventListener("click", () => { state.autoFit = false; });
  for (const name of LAYERS) state.layers[name] = L.layerGroup();
  showLayers();
  for (const name of LAYERS) $(`#live-layer-${name}`).addEventListener("change", showLayers);
  $("#live-agency").addEventListener("change", refilter);
  $("#live-site").addEventListener("change", refilter);
}

// The view follows what there is to see (zones, cameras, the fleet as it reports in) until the
// user moves the map themselves.
function fit() {
  if (!state.autoFit) return;
  const count = state.zones.length + state.areas.length + state.cameras.length + state.badges.size + state.drones.size;
  if (count === state.fittedCount) return;
  const bounds = L.latLngBounds([]);
  for (const z of state.zones) for (const p of z.polygon || []) bounds.extend([p.latitude, p.longitude]);
  for (const a of state.areas) for (const p of a.outline || []) bounds.extend([p.latitude, p.longitude]);
  for (const c of state.cameras) if (c.location) bounds.extend([c.location.latitude, c.location.longitude]);
  for (const m of [...state.badges.values(), ...state.drones.values()]) bounds.extend(m.marker.getLatLng());
  if (!bounds.isValid()) return;
  state.fittedCount = count;
  state.map.fitBounds(bounds.pad(0.2), { maxZoom: 17, animate: false });
}

async function loadPlans() {
  const zones = state.layers.zones, cams = state.layers.cameras;
  zones.clearLayers(); cams.clearLayers(); state.layers.areas.clearLayers();
  if (session.can("drones.read")) await loadAreas();
  if (session.can("drones.read")) {
    const data = await api("/api/v1/drone-zones").catch((e) => { showError(tr("map.zones_failed", { message: e.message })); return { zones: [] }; });
    state.zones = data.zones || [];
    for (const z of state.zones) {
      const nofly = z.kind === "ZONE_KIND_NO_FLY";
      L.polygon((z.polygon || []).map((p) => [p.latitude, p.longitude]), {
        className: `zone ${nofly ? "nofly" : "geofence"}`, color: nofly ? "#ef4444" : "#22c55e",
        weight: 2, dashArray: nofly ? null : "6 4", fillOpacity: nofly ? 0.25 : 0.04, interactive: false,
      }).bindTooltip(tip(tr(nofly ? "map.no_fly_zone" : "map.geofence", { name: z.name || z.zone_id }))).addTo(zones);
    }
  }
  if (session.can("drones.read")) {
    const data = await api("/api/v1/drones", { query: { page_size: 200 } }).catch(() => ({ drones: [] }));
    state.droneSites = new Map((data.drones || []).map((d) => [d.drone_id, d.site_id || ""]));
    for (const [id, site] of state.droneSites) if (state.drones.has(id)) state.drones.get(id).site = site;
  }
  if (session.can("cameras.read")) {
    const data = await api("/api/v1/cameras", { query: { page_size: 500 } }).catch(() => ({ cameras: [] }));
    state.cameras = (data.cameras || []).filter((c) => c.location && (c.location.latitude || c.location.longitude));
    for (const c of state.cameras) {
      c.marker = L.circleMarker([c.location.latitude, c.location.longitude], {
        radius: 6, className: "camera-mark", color: "#93c5fd", fillColor: "#1e3a8a", fillOpacity: 1, weight: 2,
      }).bindTooltip(tip(tr("map.camera", { name: c.name || c.id, site: c.site_id || tr("cameras.no_site") })));
      c.site = c.site_id; c.agency = c.agency_id;
    }
  }
  fillFilters();
  refilter();
}

const ring = (points) => (points || []).map((p) => [p.latitude, p.longitude]);

// Reserves, no-fishing zones and forest blocks: where what a drone's camera sees may alert.
async function loadAreas() {
  const data = await api("/api/v1/protected-areas").catch((e) => { showError(tr("map.areas_failed", { message: e.message })); return { areas: [] }; });
  state.areas = data.areas || [];
  for (const a of state.areas) {
    const kind = AREA_KINDS[a.kind] || AREA_KINDS.PROTECTED_AREA_KIND_RESERVE;
    const shape = L.polygon([ring(a.outline), ...(a.holes || []).map((hole) => ring(hole.points))], {
      className: `protected-area ${kind.css}`, color: kind.color, weight: 2, fillOpacity: 0.12, interactive: true,
    }).bindTooltip(tip(tr(kind.key, { name: a.name || a.area_id, km2: (Number(a.area_m2 || 0) / 1e6).toFixed(2) })))
      .addTo(state.layers.areas);
    const el = shape.getElement();
    if (el) el.dataset.areaId = a.area_id;
  }
}

function fillFilters() {
  const fill = (sel, values, all) => {
    const current = sel.value;
    clear(sel).append(h("option", { value: "" }, all));
    for (const v of [...values].filter(Boolean).sort()) sel.append(h("option", { value: v, selected: v === current }, v));
  };
  const alerts = alertStore.all();
  fill($("#live-agency"), new Set([state.agency, ...alerts.map((a) => a.agency_id)]), tr("map.all_agencies"));
  fill($("#live-site"), new Set([...state.cameras.map((c) => c.site_id), ...alerts.map((a) => a.site_id),
    ...[...state.badges.values()].map((b) => b.site), ...state.droneSites.values()]), tr("map.all_sites_units"));
}

function refilter() {
  const cams = state.layers.cameras;
  cams.clearLayers();
  for (const c of state.cameras) if (matches(c)) c.marker.addTo(cams);
  for (const m of [...state.badges.values(), ...state.drones.values()]) {
    const layer = m.kind === "badge" ? state.layers.badges : state.layers.drones;
    // Out of the group, not only off the map: turning the layer back on must not bring it back.
    for (const shape of [m.marker, m.trail].filter(Boolean)) {
      if (matches(m)) layer.addLayer(shape); else layer.removeLayer(shape);
    }
  }
  drawAlerts();
}

function badgeStyle(b) {
  const alarm = b.panic || b.tamper;
  return {
    radius: alarm ? 7 : 4, weight: 1, fillOpacity: b.connected ? 0.9 : 0.35,
    color: alarm ? "#fecaca" : "#0b1016", fillColor: alarm ? "#ef4444" : b.signal_lost ? "#64748b" : "#eab308",
  };
}

function onBadges(states) {
  for (const s of states) {
    if (s.lat === null || s.lon === null) continue;
    let m = state.badges.get(s.id);
    const item = { ...s, site: s.unit };
    if (!m) {
      m = { kind: "badge", marker: L.circleMarker([s.lat, s.lon], { renderer: state.canvas, ...badgeStyle(s) }) };
      m.marker.bindTooltip(() => tip(tr("map.badge", { id: m.id, officer: m.officer || tr("map.no_officer"), battery: m.battery })));
      state.badges.set(s.id, m);
      Object.assign(m, item);
      if (![...$("#live-site").options].some((o) => o.value === s.unit)) fillFilters();
      if (matches(m)) m.marker.addTo(state.layers.badges);
    } else {
      Object.assign(m, item);
      m.marker.setLatLng([s.lat, s.lon]);
    }
    m.marker.setStyle(badgeStyle(s));
  }
}

function droneStyle(t) {
  const flying = t.armed;
  return { radius: 8, weight: 3, color: t.blocked || t.breached ? "#ef4444" : flying ? "#f0f9ff" : "#94a3b8",
    fillColor: flying ? "#0ea5e9" : "#334155", fillOpacity: 1 };
}

function onDrones(samples) {
  for (const t of samples) {
    if (t.lat === null || t.lon === null) continue;
    let m = state.drones.get(t.id);
    if (!m) {
      m = { kind: "drone", id: t.id, trail: L.polyline([], { renderer: state.canvas, color: "#38bdf8", weight: 2, opacity: 0.7, interactive: false }) };
      m.marker = L.circleMarker([t.lat, t.lon], { renderer: state.canvas, ...droneStyle(t) });
      m.marker.bindTooltip(() => tip(tr("map.drone", { id: m.id, mode: m.mode, battery: m.battery, alt: m.alt })));
      m.marker.on("click", () => selectDrone(m.id));
      state.drones.set(t.id, m);
      Object.assign(m, t, { site: state.droneSites.get(t.id) || "" });
      if (matches(m)) { m.marker.addTo(state.layers.drones); m.trail.addTo(state.layers.drones); }
    } else {
      Object.assign(m, t);
      m.marker.setLatLng([t.lat, t.lon]);
    }
    // The flown track while armed: where the drone has actually been, beside the planned path.
    if (t.armed) {
      const pts = m.trail.getLatLngs();
      const last = pts[pts.length - 1];
      if (!last || Math.abs(last.lat - t.lat) + Math.abs(last.lng - t.lon) > 2e-5) {
        if (pts.length >= TRAIL_POINTS) pts.shift();
        m.trail.addLatLng([t.lat, t.lon]);
      }
    }
    followMission(m, t);
    m.marker.setStyle(droneStyle(t));
    for (const fn of state.listeners) fn(m);
  }
}

// The path a drone's mission flies, from its plan's waypoints (one per drone).
function showMission(id, plan) {
  const m = state.drones.get(id);
  const old = m ? m.mission : state.pending.get(id);
  if (old) old.remove();
  const path = L.polyline((plan.waypoints || []).map((w) => [w.latitude, w.longitude]),
    { className: "mission-path", color: "#38bdf8", weight: 3, mission: true }).addTo(state.layers.plans);
  path.getElement()?.setAttribute("data-drone-id", id);
  if (m) m.mission = path; else state.pending.set(id, path);
}

// Every flying drone shows the plan it flies, whoever dispatched it: read from the drone's state
// once it is armed (again when its mission changes length), dropped when it has landed.
function followMission(m, t) {
  if (state.pending.has(m.id)) { m.mission = state.pending.get(m.id); state.pending.delete(m.id); }
  if (t.armed && m.missionTotal !== t.total && !m.missionLoading) {
    // Asked once per mission length: a failed read waits for the next mission, not the next sample.
    m.missionLoading = true; m.missionTotal = t.total;
    api(`/api/v1/drones/${encodeURIComponent(m.id)}/state`)
      .then(({ state: st }) => { if (st && st.plan && (st.plan.waypoints || []).length) showMission(m.id, st.plan); })
      .catch((e) => showError(tr("map.mission_failed", { id: m.id, message: e.message })))
      .finally(() => { m.missionLoading = false; });
  } else if (!t.armed && m.wasArmed && m.mission) {
    m.mission.remove(); m.mission = null; m.missionTotal = undefined;
  }
  m.wasArmed = t.armed;
}

function selectDrone(id) {
  state.selected = id;
  const m = state.drones.get(id);
  for (const fn of state.listeners) fn(m || null);
}

function alertPosition(a) {
  const loc = a.latest && a.latest.location;
  if (loc && (loc.latitude || loc.longitude)) return [Number(loc.latitude), Number(loc.longitude)];
  const cam = a.source && state.cameras.find((c) => c.id === a.source.id);
  return cam ? [cam.location.latitude, cam.location.longitude] : null;
}

export const alertAt = alertPosition;

const alertHandlers = new Set();
export function onAlertClick(fn) { alertHandlers.add(fn); }

function drawAlerts() {
  if (!state.map) return;
  const layer = state.layers.alerts;
  layer.clearLayers();
  state.alertMarks.clear();
  for (const a of alertStore.all()) {
    if (short(a.state, "ALERT_STATE_") === "resolved") continue;
    if (!matches({ agency: a.agency_id, site: a.site_id || (a.source && a.source.site_id) })) continue;
    const at = alertPosition(a);
    if (!at) continue;
    const sev = short(a.severity, "SEVERITY_");
    const mark = L.circleMarker(at, { radius: 11, className: `alert-mark sev-${sev}`, weight: 3, fillOpacity: 0.35 })
      .bindTooltip(tip(`${label("alert_type", a.type)}: ${a.summary || ""}`))
      .on("click", () => { for (const fn of alertHandlers) fn(a, at); })
      .addTo(layer);
    state.alertMarks.set(a.alert_id, mark);
    const el = mark.getElement();
    if (el) el.dataset.alertId = a.alert_id;
  }
}

function stats() {
  $("#live-stats").textContent = tr("map.stats", { badges: state.badges.size, drones: state.drones.size, alerts: state.alertMarks.size });
}

function connect() {
  if (state.socket) return;
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${proto}//${location.host}/ws/fleet`);
  state.socket = ws;
  ws.onopen = () => ws.send(JSON.stringify({ type: "auth", token: session.token }));
  ws.onmessage = (ev) => {
    const msg = JSON.parse(ev.data);
    state.frames++;
    if (msg.type === "ready") { state.agency = msg.agency; state.retry = 0; fillFilters(); $("#live-feed").textContent = tr("feed.live"); $("#live-feed").className = "pill online"; return; }
    if (msg.type === "badges") { state.updates += msg.states.length; onBadges(msg.states); }
    else if (msg.type === "drones") { state.updates += msg.telemetry.length; onDrones(msg.telemetry); }
    fit();
    stats();
  };
  ws.onclose = (ev) => {
    state.socket = null;
    $("#live-feed").textContent = tr("cameras.status_offline"); $("#live-feed").className = "pill offline";
    if (!session.token || [4401, 4403].includes(ev.code)) return;
    state.retry = Math.min(state.retry + 1, 5);
    setTimeout(() => { if (!$("#view-live").hidden) connect(); }, 500 * 2 ** state.retry);
  };
}

export function stopLiveMap() {
  if (state.socket) { const ws = state.socket; state.socket = null; ws.onclose = null; ws.close(); }
}

export async function loadLiveMap() {
  await ensureMap();
  // The container was hidden when the map was made: Leaflet must measure it again.
  state.map.invalidateSize();
  await loadPlans();
  fit();
  connect();
  stats();
}

alertStore.onChange(() => { if (state.map && !$("#view-live").hidden) { drawAlerts(); stats(); } });
