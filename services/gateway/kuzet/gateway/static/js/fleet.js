// Badges, integrity reports and drones: read-only panels.
import { api } from "./api.js";
import { $, clear, h, short, showError, when } from "./dom.js";
import { label, t } from "./i18n.js";

function empty(rows, cols, text) { rows.append(h("tr", {}, h("td", { colspan: cols, class: "note" }, text))); }

export async function loadBadges() {
  const rows = clear($("#badge-rows"));
  try {
    const data = await api("/api/v1/badges", { query: { page_size: 200 } });
    for (const b of data.badges) rows.append(h("tr", {}, h("td", {}, b.badge_id), h("td", {}, b.unit_id),
      h("td", {}, b.officer_id || "—"), h("td", {}, label("badge_status", short(b.status, "BADGE_STATUS_")))));
    if (!data.badges.length) empty(rows, 4, t("fleet.no_badges"));
  } catch (e) { empty(rows, 4, t("fleet.unavailable_because", { message: e.message })); }
}

export async function loadIntegrity() {
  const rows = clear($("#integrity-rows"));
  try {
    const data = await api("/api/v1/integrity-reports", { query: { page_size: 200 } });
    for (const r of data.reports) rows.append(h("tr", {}, h("td", {}, when(r.occurred_at)), h("td", {}, r.officer_id),
      h("td", {}, r.badge_id), h("td", {}, r.description)));
    if (!data.reports.length) empty(rows, 4, t("fleet.no_reports"));
  } catch (e) { empty(rows, 4, t("fleet.unavailable_because", { message: e.message })); }
}

export async function loadDrones() {
  const rows = clear($("#drone-rows"));
  try {
    const data = await api("/api/v1/drones", { query: { page_size: 200 } });
    for (const d of data.drones) rows.append(h("tr", {}, h("td", {}, d.drone_id), h("td", {}, d.name),
      h("td", {}, d.home ? `${Number(d.home.latitude).toFixed(5)}, ${Number(d.home.longitude).toFixed(5)}` : "—")));
    if (!data.drones.length) empty(rows, 3, t("fleet.no_drones"));
  } catch (e) { showError(t("fleet.drones_failed", { message: e.message })); empty(rows, 3, t("fleet.unavailable")); }
}
