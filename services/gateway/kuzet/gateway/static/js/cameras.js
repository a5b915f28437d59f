// Cameras with their live health, and the site map (plain SVG, no tile server).
import { api } from "./api.js";
import { alertStore } from "./alerts.js";
import { $, clear, h, short, showError, when } from "./dom.js";
import { label, t } from "./i18n.js";
import { canWatch, openLive } from "./liveview.js";

let cameras = [];
const health = new Map();

export async function loadCameras() {
  try {
    const [list, hl] = await Promise.all([
      api("/api/v1/cameras", { query: { page_size: 500 } }),
      api("/api/v1/cameras/health").catch(() => ({ health: [] })),
    ]);
    cameras = list.cameras || [];
    health.clear();
    for (const x of hl.health || []) health.set(x.camera_id, x);
  } catch (e) { showError(t("cameras.load_failed", { message: e.message })); }
  const rows = clear($("#camera-rows"));
  for (const c of cameras) {
    const hh = health.get(c.id);
    const faults = hh ? (hh.faults || []).map((f) => label("fault", short(f, "FAULT_"))).join(", ") : "";
    const status = !c.enabled ? "stopped" : hh ? (hh.connected ? "online" : "offline") : "unknown";
    rows.append(h("tr", { class: `cam-${status}` },
      h("td", {}, c.name || c.id, canWatch() && status === "online"
        ? h("button", { class: "secondary live-open", dataset: { cameraId: c.id }, onclick: () => openLive(c) }, t("cameras.live"))
        : null),
      h("td", {}, c.site_id || "—"),
      // Why a camera is offline is what the operator needs next (ingest never puts credentials here).
      h("td", {}, h("span", { class: `pill ${status}` }, t(`cameras.status_${status}`)),
        hh && hh.last_error && status !== "online" ? h("span", { class: "cam-error" }, hh.last_error) : null),
      h("td", {}, hh ? `${Number(hh.fps_in).toFixed(1)} / ${Number(hh.fps_out).toFixed(1)}` : "—"),
      h("td", {}, faults || "—"), h("td", {}, hh ? when(hh.last_frame_at) : "—")));
  }
  if (!cameras.length) rows.append(h("tr", {}, h("td", { colspan: 6, class: "note" }, t("cameras.none"))));
  fillSites();
  drawMap();
}

function fillSites() {
  const sel = $("#map-site");
  const current = sel.value;
  const sites = [...new Set([...cameras.map((c) => c.site_id), ...alertStore.all().map((a) => a.site_id)].filter(Boolean))].sort();
  clear(sel);
  sel.append(h("option", { value: "" }, t("cameras.all_sites")));
  for (const s of sites) sel.append(h("option", { value: s, selected: s === current }, s));
}

function position(c) {
  const p = c.plan_position;
  if (p && (p.x || p.y)) return { x: Number(p.x), y: Number(p.y), heading: Number(p.heading_deg || 0), plan: true };
  const l = c.location;
  if (l && (l.latitude || l.longitude)) return { x: Number(l.longitude), y: -Number(l.latitude), heading: 0, plan: false };
  return null;
}

export function drawMap() {
  const svg = clear($("#site-map"));
  const site = $("#map-site").value;
  const cams = cameras.filter((c) => !site || c.site_id === site);
  const placed = cams.map((c) => ({ c, p: position(c) })).filter((x) => x.p);
  const W = 1000, H = 600, pad = 60;
  svg.append(h("rect", { x: 10, y: 10, width: W - 20, height: H - 20, class: "plan" }));
  if (!placed.length) {
    svg.append(h("text", { x: W / 2, y: H / 2, class: "plan-note", "text-anchor": "middle" }, t("cameras.no_plan")));
    return;
  }
  const xs = placed.map((x) => x.p.x), ys = placed.map((x) => x.p.y);
  const [minX, maxX, minY, maxY] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const scale = Math.min((W - 2 * pad) / (maxX - minX || 1), (H - 2 * pad) / (maxY - minY || 1));
  const at = (p) => ({ x: pad + (p.x - minX) * scale, y: pad + (p.y - minY) * scale });
  const where = new Map();
  for (const { c, p } of placed) {
    const q = at(p);
    where.set(c.id, q);
    const rad = (p.heading - 90) * Math.PI / 180;
    svg.append(h("g", { class: "cam", dataset: { cameraId: c.id } },
      h("line", { x1: q.x, y1: q.y, x2: q.x + 28 * Math.cos(rad), y2: q.y + 28 * Math.sin(rad), class: "fov" }),
      h("rect", { x: q.x - 7, y: q.y - 7, width: 14, height: 14, class: "cam-icon" }),
      q.x > W - 160
        ? h("text", { x: q.x - 12, y: q.y - 10, class: "cam-label", "text-anchor": "end" }, c.name || c.id)
        : h("text", { x: q.x + 12, y: q.y - 10, class: "cam-label" }, c.name || c.id),
      h("title", {}, `${c.name || c.id} (${c.site_id || t("cameras.no_site")})`)));
  }
  for (const a of alertStore.all()) {
    if (short(a.state, "ALERT_STATE_") === "resolved") continue;
    const q = a.source && where.get(a.source.id);
    if (!q) continue;
    svg.append(h("g", { class: `alert-dot sev-${short(a.severity, "SEVERITY_")}`, dataset: { alertId: a.alert_id } },
      h("circle", { cx: q.x, cy: q.y, r: 18, class: "pulse" }),
      h("circle", { cx: q.x, cy: q.y, r: 6, class: "dot" }),
      h("title", {}, `${label("alert_type", a.type)}: ${a.summary || ""}`)));
  }
}

document.addEventListener("DOMContentLoaded", () => $("#map-site").addEventListener("change", drawMap));
alertStore.onChange(() => { if (!$("#view-map").hidden) drawMap(); });
