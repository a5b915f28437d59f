// The drone pilot's workflow on the live map: pick a drone (or the nearest one for an alert), draw a
// route, a perimeter or an area sweep, see the drone service check the plan (geofences, no-fly
// zones, range, battery), confirm explicitly, dispatch, follow it, and hold / resume / return to
// launch / land / emergency-stop it. Only a user with drones.command sees the controls; the
// gateway refuses everyone else too, and the drone service audits every command.
import { api, session } from "./api.js";
import { openAlertDetail } from "./alertdetail.js";
import { $, clear, h, short, showError } from "./dom.js";
import { label, t } from "./i18n.js";
import { fleetMap, onAlertClick } from "./map.js";

const L = window.L;
const KINDS = {
  route: "PATROL_KIND_ROUTE_TO_POINT",
  perimeter: "PATROL_KIND_PERIMETER",
  sweep: "PATROL_KIND_AREA_SWEEP",
};
const draft = { points: [], alertId: "", shape: null, path: null, plan: null };

const pilot = () => session.can("drones.command");
const fixed = (v, n = 0) => Number(v || 0).toFixed(n);

// --- the selected drone: telemetry, mission, commands -------------------------------------------

function row(label, value) { return [h("dt", {}, label), h("dd", {}, value)]; }

function showDrone(m) {
  const box = $("#drone-detail");
  if (!m || m.id !== fleetMap.selected()) { if (!m) box.hidden = true; return; }
  box.hidden = false;
  box.dataset.droneId = m.id;
  $("#drone-title").textContent = t("source.drone", { name: m.id });
  clear($("#drone-telemetry")).append(
    ...row(t("drone.position"), `${fixed(m.lat, 6)}, ${fixed(m.lon, 6)}`), ...row(t("drone.altitude"), t("drone.metres", { v: fixed(m.alt, 1) })),
    ...row(t("drone.speed"), t("drone.metres_per_second", { v: fixed(m.speed, 1) })), ...row(t("drone.heading"), `${fixed(m.heading)}°`),
    ...row(t("drone.battery"), m.battery < 0 ? t("drone.unknown") : `${fixed(m.battery)} %`),
    ...row(t("drone.mode"), m.armed ? t("drone.mode_armed", { mode: m.mode }) : m.mode), ...row(t("drone.link"), m.link),
    ...row(t("drone.waypoint"), m.total ? t("drone.waypoint_of", { n: m.current + 1, of: m.total }) : "—"),
    ...(m.blocked ? row(t("drone.commands"), t("drone.blocked")) : []),
    ...(m.breached ? row(t("drone.geofence"), t("drone.breached")) : []));
  $("#drone-reenable").hidden = !m.blocked;
}

function listDrone(m) {
  if (!m) return;
  let li = $(`#live-drones li[data-drone-id="${m.id}"]`);
  if (!li) {
    li = h("li", { dataset: { droneId: m.id } }, h("button", { class: "link", onclick: () => fleetMap.select(m.id) }, m.id), h("span", { class: "note" }));
    $("#live-drones").append(li);
  }
  li.lastChild.textContent = ` ${m.mode} · ${m.battery < 0 ? "?" : fixed(m.battery)} % · ${t("drone.metres", { v: fixed(m.alt) })}`;
}

const missionText = (mission) =>
  t("drone.mission", { id: mission.mission_id, state: label("mission_state", short(mission.state, "MISSION_STATE_").replace(/ /g, "_")) });

async function refreshMission(id) {
  const data = await api(`/api/v1/drones/${encodeURIComponent(id)}/state`).catch(() => null);
  const mission = data && data.state && data.state.mission;
  $("#drone-mission").textContent = mission && mission.mission_id
    ? missionText(mission) + (mission.reason ? ` (${mission.reason})` : "")
    : t("drone.no_mission");
}

async function control(action, confirm = "") {
  const id = fleetMap.selected();
  try {
    const resp = await api(`/api/v1/drones/${encodeURIComponent(id)}/control`, {
      method: "POST", body: { action, reason: $("#drone-reason").value, confirm },
    });
    $("#drone-command-result").textContent = t("drone.sent", { action: label("drone_action", action) });
    const mission = resp.state && resp.state.mission;
    if (mission && mission.mission_id) $("#drone-mission").textContent = missionText(mission);
  } catch (e) { $("#drone-command-result").textContent = t("drone.refused", { action: label("drone_action", action), message: e.message }); }
}

function emergencyStop() {
  const id = fleetMap.selected();
  const dlg = $("#estop-confirm");
  $("#estop-drone").textContent = id;
  $("#estop-name").value = "";
  $("#estop-go").disabled = true;
  dlg.showModal();
  $("#estop-name").focus();
}

// --- planning -------------------------------------------------------------------------------------

function kind() { return $("#plan-kind").value; }

function drawDraft() {
  const layer = fleetMap.layer("plans");
  for (const x of [draft.shape, draft.path]) if (x) x.remove();
  draft.shape = draft.path = null;
  const pts = draft.points.map((p) => [p.latitude, p.longitude]);
  if (pts.length) {
    draft.shape = kind() === "route" || pts.length < 3
      ? L.polyline(pts, { className: "plan-draft", color: "#f59e0b", weight: 2, dashArray: "4 4" })
      : L.polygon(pts, { className: "plan-draft", color: "#f59e0b", weight: 2, fillOpacity: 0.1 });
    draft.shape.addTo(layer);
  }
  $("#plan-points").textContent = kind() === "route"
    ? (pts.length ? t("plan.target_set") : t("plan.click_target"))
    : t("plan.corners", { n: pts.length });
}

function resetPlan(keepPoints = false) {
  if (!keepPoints) { draft.points = []; draft.alertId = ""; fleetMap.layer("plans").eachLayer((l) => { if (!l.options.mission) l.remove(); }); }
  draft.plan = null;
  if (draft.path) { draft.path.remove(); draft.path = null; }
  clear($("#plan-result"));
  $("#plan-dispatch").disabled = true;
  drawDraft();
}

function onMapClick(ev) {
  if ($("#plan-box").hidden || $("#view-live").hidden) return;
  const p = { latitude: ev.latlng.lat, longitude: ev.latlng.lng };
  if (kind() === "route") draft.points = [p]; else draft.points.push(p);
  resetPlan(true);
}

function planBody() {
  const body = { drone_id: $("#plan-drone").value, kind: KINDS[kind()], altitude_m: Number($("#plan-altitude").value) };
  if (kind() === "route") { body.target = draft.points[0]; body.hold_s = 30; } else body.polygon = draft.points;
  if (draft.alertId) body.alert_id = draft.alertId;
  return body;
}

async function checkPlan(ev) {
  ev.preventDefault();
  const need = kind() === "route" ? 1 : 3;
  if (!$("#plan-drone").value) { showError(t("plan.choose_drone")); return; }
  if (draft.points.length < need) { showError(kind() === "route" ? t("plan.click_target") : t("plan.three_corners")); return; }
  const out = clear($("#plan-result"));
  try {
    const { plan } = await api("/api/v1/drones/plans", { method: "POST", body: planBody() });
    draft.plan = plan;
    const wps = (plan.waypoints || []).map((w) => [w.latitude, w.longitude]);
    if (draft.path) draft.path.remove();
    draft.path = L.polyline(wps, { className: `plan-path ${plan.ok ? "ok" : "refused"}`, color: plan.ok ? "#38bdf8" : "#ef4444", weight: 3, dashArray: "8 6" })
      .addTo(fleetMap.layer("plans"));
    out.append(h("p", { class: plan.ok ? "plan-ok" : "plan-refused" }, plan.ok ? t("plan.passed") : t("plan.cannot_fly")),
      h("ul", { class: "plan-violations" }, (plan.violations || []).map((v) => h("li", {}, v.message))),
      h("p", { class: "note plan-figures" },
        t("plan.figures", { km: fixed(plan.distance_m / 1000, 2), min: fixed(plan.estimated_duration_s / 60, 1),
          use: fixed(plan.estimated_battery_pct), landing: fixed(plan.estimated_landing_battery_pct) })));
    $("#plan-dispatch").disabled = !plan.ok;
  } catch (e) { out.append(h("p", { class: "plan-refused" }, t("plan.not_planned", { message: e.message }))); }
}

function askDispatch() {
  const plan = draft.plan;
  if (!plan || !plan.ok) return;
  $("#dispatch-summary").textContent = t("plan.summary", {
    drone: plan.drone_id, kind: label("patrol_kind", short(plan.kind, "PATROL_KIND_").replace(/ /g, "_")), n: (plan.waypoints || []).length,
    distance: fixed(plan.distance_m), altitude: fixed(plan.altitude_m), min: fixed(plan.estimated_duration_s / 60, 1),
    landing: fixed(plan.estimated_landing_battery_pct) }) + (plan.alert_id ? t("plan.for_alert", { alert: plan.alert_id }) : "") + ".";
  $("#dispatch-ack").checked = false;
  $("#dispatch-go").disabled = true;
  $("#dispatch-confirm").showModal();
}

async function dispatch() {
  const plan = draft.plan;
  $("#dispatch-go").disabled = true;
  try {
    const { mission } = await api("/api/v1/drones/dispatch", { method: "POST", body: { plan_id: plan.plan_id, pilot_confirmed: true } });
    $("#dispatch-confirm").close();
    fleetMap.showMission(plan.drone_id, plan);
    resetPlan();
    $("#plan-result").append(h("p", { class: "plan-ok dispatched" }, t("plan.dispatched", { id: mission.mission_id })));
    fleetMap.select(plan.drone_id);
    await refreshMission(plan.drone_id);
  } catch (e) { $("#dispatch-error").textContent = e.message; $("#dispatch-go").disabled = false; }
}

async function loadDroneChoices() {
  const sel = $("#plan-drone");
  const current = sel.value;
  const data = await api("/api/v1/drones", { query: { page_size: 200 } }).catch(() => ({ drones: [] }));
  clear(sel).append(h("option", { value: "" }, t("plan.choose_option")));
  for (const d of data.drones || []) sel.append(h("option", { value: d.drone_id, selected: d.drone_id === current }, d.name ? `${d.drone_id} (${d.name})` : d.drone_id));
}

// --- from an alert --------------------------------------------------------------------------------

async function fromAlert(alert, at) {
  if (!pilot()) { openAlertDetail(alert.alert_id); return; }
  const box = $("#suggest-box");
  box.hidden = false;
  box.dataset.alertId = alert.alert_id;
  $("#suggest-title").textContent = t("suggest.title", { type: label("alert_type", alert.type), position: `${fixed(at[0], 5)}, ${fixed(at[1], 5)}` });
  const list = clear($("#suggestions"));
  try {
    const data = await api("/api/v1/drones/suggestions", { query: { latitude: at[0], longitude: at[1], hold_s: 30 } });
    for (const s of data.suggestions || []) {
      list.append(h("li", { dataset: { droneId: s.drone_id } },
        h("button", { class: "suggest", onclick: () => planForAlert(alert, at, s.drone_id) }, t("suggest.plan", { drone: s.drone_id })),
        " " + t("suggest.figures", { distance: fixed(s.distance_m), arrival: fixed(s.estimated_arrival_s), landing: fixed(s.estimated_landing_battery_pct) })));
    }
    if (!(data.suggestions || []).length) list.append(h("li", { class: "note" }, t("suggest.none")));
  } catch (e) { list.append(h("li", { class: "error" }, e.message)); }
}

function planForAlert(alert, at, droneId) {
  $("#plan-kind").value = "route";
  $("#plan-drone").value = droneId;
  resetPlan();
  draft.points = [{ latitude: at[0], longitude: at[1] }];
  draft.alertId = alert.alert_id;
  drawDraft();
  $("#plan-box").scrollIntoView({ block: "nearest" });
}

// --- wiring ---------------------------------------------------------------------------------------

let wired = false;

export async function loadDispatch() {
  $("#plan-box").hidden = !pilot();
  $("#drone-controls").hidden = !pilot();
  if (!pilot()) $("#suggest-box").hidden = true;
  if (pilot()) await loadDroneChoices();
  if (wired) return;
  wired = true;
  fleetMap.onDrone((m) => { listDrone(m); showDrone(m); });
  fleetMap.map.on("click", onMapClick);
  onAlertClick(fromAlert);
  $("#plan-kind").addEventListener("change", () => resetPlan());
  $("#plan-clear").addEventListener("click", () => resetPlan());
  $("#plan-form").addEventListener("submit", checkPlan);
  $("#plan-dispatch").addEventListener("click", askDispatch);
  $("#dispatch-ack").addEventListener("change", () => { $("#dispatch-go").disabled = !$("#dispatch-ack").checked; });
  $("#dispatch-go").addEventListener("click", dispatch);
  $("#dispatch-cancel").addEventListener("click", () => $("#dispatch-confirm").close());
  for (const b of document.querySelectorAll("#drone-controls button[data-action]")) b.addEventListener("click", () => control(b.dataset.action));
  $("#drone-estop").addEventListener("click", emergencyStop);
  $("#estop-name").addEventListener("input", () => { $("#estop-go").disabled = $("#estop-name").value !== fleetMap.selected(); });
  $("#estop-go").addEventListener("click", async () => {
    const typed = $("#estop-name").value;
    $("#estop-confirm").close();
    await control("emergency_stop", typed);
  });
  $("#estop-cancel").addEventListener("click", () => $("#estop-confirm").close());
  $("#drone-reenable").addEventListener("click", async () => {
    try {
      await api(`/api/v1/drones/${encodeURIComponent(fleetMap.selected())}/reenable`, { method: "POST", body: { reason: $("#drone-reason").value || "checked after the emergency stop" } });
      $("#drone-command-result").textContent = t("drone.reenabled");
    } catch (e) { $("#drone-command-result").textContent = t("drone.not_reenabled", { message: e.message }); }
  });
  fleetMap.onDrone((m) => { if (m && m.id === fleetMap.selected() && $("#drone-detail").dataset.mission !== m.id) { $("#drone-detail").dataset.mission = m.id; refreshMission(m.id); } });
  drawDraft();
}
