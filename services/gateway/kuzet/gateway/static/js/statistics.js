// Statistics: what ministries report, per month, each table with its chart and a CSV file.
// Months are counted in the site's configured time zone when a site is picked, otherwise in the
// browser's (the zone is sent to the gateway, which counts in it); the page says which.
import uPlot from "../vendor/uplot/uPlot.esm.js";
import { api, session } from "./api.js";
import { AXIS, PALETTE, draw } from "./charts.js";
import { $, clear, h, showError } from "./dom.js";
import { reportTable } from "./tables.js";

const BROWSER_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
const ZONES = [...new Set([BROWSER_ZONE, "Asia/Almaty", "Asia/Aqtobe", "UTC"])];
const SPANS = [["12", "12 months"], ["6", "6 months"], ["3", "3 months"], ["24", "24 months"]];
let sites = [];
let built = false;

// Blank where nothing was acknowledged or resolved (not 0: that would be an instant response).
const minutes = (s) => (s === null || s === undefined ? "" : (Number(s) / 60).toFixed(1));
const hours = (x) => Number(x || 0).toFixed(1);

function build() {
  const view = clear($("#view-statistics"));
  view.append(
    h("div", { class: "toolbar" }, h("h1", {}, "Statistics"),
      h("label", {}, "Site ", h("select", { id: "stats-site" }, h("option", { value: "" }, "all sites"))),
      h("label", {}, "Period ", h("select", { id: "stats-span" }, SPANS.map(([v, t]) => h("option", { value: v }, t)))),
      h("label", {}, "Time zone ", h("select", { id: "stats-zone" }, h("option", { value: "" }, "the site's, else this browser's"),
        ZONES.map((z) => h("option", { value: z }, z)))),
      h("button", { id: "stats-refresh", class: "secondary" }, "Refresh")),
    h("p", { id: "stats-zone-note", class: "note" }),
    h("div", { class: "traffic-charts" },
      figure("stats-violations-chart", "Violations found per month, by type"),
      figure("stats-response-chart", "Response times per month (minutes)"),
      figure("stats-citations-chart", "Citations per month"),
      figure("stats-integrity-chart", "Bribery attempts recorded per month"),
      figure("stats-flights-chart", "Drone flight hours per month")),
    ...["violations", "response", "citations", "integrity", "flights"].map((n) => h("section", { id: `stats-${n}`, class: "report" })));
  for (const id of ["#stats-site", "#stats-span", "#stats-zone"]) $(id).addEventListener("change", () => loadStatistics().catch((e) => showError(e.message)));
  $("#stats-refresh").addEventListener("click", () => loadStatistics().catch((e) => showError(e.message)));
  built = true;
}

function figure(id, caption) {
  return h("figure", { class: "chart", id: `${id}-figure` }, h("figcaption", {}, caption), h("div", { id, class: "chart-area" }));
}

// One series per key over the period's months (a month with nothing is 0, not a gap).
function monthly(months, rows, keyOf, valueOf) {
  const keys = [...new Set(rows.map(keyOf))].sort();
  const at = new Map(months.map((m, i) => [m, i]));
  const series = keys.map((k) => ({ label: k, values: months.map(() => 0) }));
  for (const r of rows) {
    const i = at.get(r.month);
    if (i !== undefined) series[keys.indexOf(keyOf(r))].values[i] += Number(valueOf(r)) || 0;
  }
  return series;
}

function chart(id, months, series, yLabel) {
  const el = $(`#${id}`);
  if (!el) return;
  const xs = months.map((_, i) => i);
  draw(el, {
    series: [{ label: "month", value: (u, i) => months[i] ?? "" }, ...series.map((s, i) => ({
      label: s.label, stroke: PALETTE[i % PALETTE.length], width: 2,
      paths: series.length === 1 ? uPlot.paths.bars({ size: [0.6, Infinity] }) : undefined,
      fill: series.length === 1 ? "rgba(59, 130, 246, 0.5)" : undefined,
    }))],
    axes: [{ ...AXIS, values: (u, splits) => splits.map((i) => months[i] ?? "") }, { ...AXIS, label: yLabel }],
    scales: { x: { time: false, range: () => [-0.5, Math.max(0.5, months.length - 0.5)] }, y: { range: (u, min, max) => [0, Math.max(1, max)] } },
  }, [xs, ...series.map((s) => s.values)]);
  el.dataset.series = String(series.length);
}

async function loadSites() {
  if (!session.can("alerts.read")) return;
  sites = ((await api("/api/v1/sites")).configs) || [];
  const sel = $("#stats-site");
  const current = sel.value;
  clear(sel).append(h("option", { value: "" }, "all sites"), ...sites.map((s) => h("option", { value: s.site_id }, s.display_name || s.site_id)));
  sel.value = current;
}

function zone() {
  const chosen = $("#stats-zone").value;
  if (chosen) return [chosen, "chosen"];
  const site = sites.find((s) => s.site_id === $("#stats-site").value);
  if (site && site.time_zone) return [site.time_zone, `the time zone of site ${site.display_name || site.site_id}`];
  return [BROWSER_ZONE, "this browser's time zone"];
}

function span() {
  const until = new Date();
  const since = new Date(until);
  since.setMonth(since.getMonth() - Number($("#stats-span").value));
  return { since: since.toISOString(), until: until.toISOString() };
}

export async function loadStatistics() {
  if (!built) { build(); await loadSites().catch(() => {}); }
  const [tz, why] = zone();
  const query = { ...span(), time_zone: tz };
  $("#stats-zone-note").textContent = `Months in ${tz} (${why}). Violations and response times are the alerts first seen in each month.`;
  const site = $("#stats-site").value;
  const canIntegrity = session.can("integrity.read");
  const canFigures = session.can("statistics.read");
  for (const n of ["violations", "response", "citations", "flights"]) {
    $(`#stats-${n}-chart-figure`).hidden = !canFigures;
    $(`#stats-${n}`).hidden = !canFigures;
  }
  $("#stats-integrity-chart-figure").hidden = !canIntegrity;
  $("#stats-integrity").hidden = !canIntegrity;
  const calls = [];
  if (canFigures) {
    calls.push(api("/api/v1/statistics/alerts", { query: { ...query, site_id: site } }).then(showAlerts));
    calls.push(api("/api/v1/statistics/citations", { query }).then((d) => showCitations(d, query)));
    calls.push(api("/api/v1/statistics/flights", { query }).then((d) => showFlights(d, query)));
  }
  if (canIntegrity) calls.push(api("/api/v1/statistics/integrity", { query }).then((d) => showIntegrity(d, query)));
  await Promise.all(calls);
}

// The months of the period as the gateway counts them (it answers them with the alert figures);
// for the other figures the same list is rebuilt from the rows and the period.
function monthsOf(query, rows) {
  const fmt = new Intl.DateTimeFormat("en-CA", { timeZone: query.time_zone, year: "numeric", month: "2-digit" });
  const out = [];
  const d = new Date(query.since);
  const end = new Date(query.until);
  while (d <= end) { out.push(fmt.format(d).slice(0, 7)); d.setUTCDate(d.getUTCDate() + 27); }
  out.push(fmt.format(end).slice(0, 7));
  return [...new Set([...out, ...rows.map((r) => r.month)])].sort();
}

function showAlerts(d) {
  const months = d.months || [];
  chart("stats-violations-chart", months, monthly(months, d.violations, (r) => r.type, (r) => r.alerts), "alerts");
  const per = new Map();
  for (const r of d.response_times) {
    // The chart shows the agency's (or the site's) month: the median of per-site medians would
    // mislead, so it charts the worst site's figure and the table has each site's.
    const m = per.get(r.month) || { month: r.month, ack: 0, resolve: 0 };
    m.ack = Math.max(m.ack, Number(r.ack_median_s) || 0);
    m.resolve = Math.max(m.resolve, Number(r.resolve_median_s) || 0);
    per.set(r.month, m);
  }
  chart("stats-response-chart", months, [
    { label: "acknowledge, median (worst site)", values: months.map((m) => (per.get(m)?.ack || 0) / 60) },
    { label: "resolve, median (worst site)", values: months.map((m) => (per.get(m)?.resolve || 0) / 60) },
  ], "minutes");
  reportTable($("#stats-violations"), {
    title: "Violations found", name: `violations-${d.time_zone.replace("/", "_")}`, rows: d.violations,
    columns: [{ key: "month", label: "Month" }, { key: "site_id", label: "Site" }, { key: "type", label: "Type" },
      { key: "alerts", label: "Alerts" }, { key: "events", label: "Events" }, { key: "false_alarms", label: "False alarms" }],
  });
  reportTable($("#stats-response"), {
    title: "Response times", name: "response-times", rows: d.response_times,
    columns: [{ key: "month", label: "Month" }, { key: "site_id", label: "Site" }, { key: "alerts", label: "Alerts" },
      { key: "acknowledged", label: "Acknowledged" }, { key: "ack_median_s", label: "Ack median (min)", format: minutes },
      { key: "ack_p90_s", label: "Ack p90 (min)", format: minutes }, { key: "resolved", label: "Resolved" },
      { key: "resolve_median_s", label: "Resolve median (min)", format: minutes }, { key: "resolve_p90_s", label: "Resolve p90 (min)", format: minutes }],
  });
  if (d.truncated) showError(`Only the first ${d.scanned} alerts were counted: choose a shorter period or one site.`);
}

function showCitations(d, query) {
  const rows = d.citations || [];
  const months = monthsOf(query, rows);
  const series = ["issued", "paid", "contested", "upheld", "voided"].map((k) => ({
    label: k, values: monthly(months, rows, () => k, (r) => r[k])[0]?.values || months.map(() => 0),
  }));
  chart("stats-citations-chart", months, series, "citations");
  reportTable($("#stats-citations"), {
    title: "Administrative violations: citations", name: "citations", rows,
    columns: [{ key: "month", label: "Month" }, { key: "unit_id", label: "Unit" }, { key: "offence_code", label: "Offence" },
      ...["issued", "paid", "contested", "upheld", "voided"].map((k) => ({ key: k, label: k[0].toUpperCase() + k.slice(1) }))],
  });
}

function showIntegrity(d, query) {
  const rows = d.integrity_reports || [];
  const months = monthsOf(query, rows);
  chart("stats-integrity-chart", months, monthly(months, rows, () => "reports", (r) => r.reports), "reports");
  reportTable($("#stats-integrity"), {
    title: "Bribery attempts recorded (integrity reports)", name: "integrity-reports", rows,
    columns: [{ key: "month", label: "Month" }, { key: "reports", label: "Reports" }],
  });
}

function showFlights(d, query) {
  const rows = d.figures || [];
  const months = monthsOf(query, rows);
  chart("stats-flights-chart", months, monthly(months, rows, () => "flight hours", (r) => r.flight_hours), "hours");
  reportTable($("#stats-flights"), {
    title: "Drone flights", name: "flights", rows,
    columns: [{ key: "month", label: "Month" }, { key: "drone_id", label: "Drone" },
      { key: "flight_hours", label: "Flight hours", format: hours }, { key: "missions", label: "Missions" },
      { key: "completed", label: "Completed" }, { key: "aborted", label: "Aborted" }, { key: "alert_missions", label: "For alerts" }],
  });
}
