// Statistics: what ministries report, per month, each table with its chart and a CSV file.
// Months are counted in the site's configured time zone when a site is picked, otherwise in the
// browser's (the zone is sent to the gateway, which counts in it); the page says which.
import uPlot from "../vendor/uplot/uPlot.esm.js";
import { api, session } from "./api.js";
import { AXIS, PALETTE, draw } from "./charts.js";
import { $, clear, h, showError } from "./dom.js";
import { label, t } from "./i18n.js";
import { reportTable } from "./tables.js";

const BROWSER_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
const ZONES = [...new Set([BROWSER_ZONE, "Asia/Almaty", "Asia/Aqtobe", "UTC"])];
const SPANS = ["12", "6", "3", "24"];
let sites = [];
let built = false;

// Blank where nothing was acknowledged or resolved (not 0: that would be an instant response).
const minutes = (s) => (s === null || s === undefined ? "" : (Number(s) / 60).toFixed(1));
const hours = (x) => Number(x || 0).toFixed(1);

function build() {
  const view = clear($("#view-statistics"));
  view.append(
    h("div", { class: "toolbar" }, h("h1", {}, t("stats.title")),
      h("label", {}, `${t("stats.site")} `, h("select", { id: "stats-site" }, h("option", { value: "" }, t("cameras.all_sites")))),
      h("label", {}, `${t("stats.period")} `, h("select", { id: "stats-span" }, SPANS.map((v) => h("option", { value: v }, t("stats.months", { n: Number(v) }))))),
      h("label", {}, `${t("header.time_zone")} `, h("select", { id: "stats-zone" }, h("option", { value: "" }, t("stats.zone_default")),
        ZONES.map((z) => h("option", { value: z }, z)))),
      h("button", { id: "stats-refresh", class: "secondary" }, t("stats.refresh"))),
    h("p", { id: "stats-zone-note", class: "note" }),
    h("div", { class: "traffic-charts" },
      figure("stats-violations-chart", t("stats.fig_violations")),
      figure("stats-response-chart", t("stats.fig_response")),
      figure("stats-citations-chart", t("stats.fig_citations")),
      figure("stats-integrity-chart", t("stats.fig_integrity")),
      figure("stats-flights-chart", t("stats.fig_flights"))),
    ...["violations", "response", "outcomes", "citations", "integrity", "flights"].map((n) => h("section", { id: `stats-${n}`, class: "report" })));
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
    series: [{ label: t("stats.month_axis"), value: (u, i) => months[i] ?? "" }, ...series.map((s, i) => ({
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
  clear(sel).append(h("option", { value: "" }, t("cameras.all_sites")), ...sites.map((s) => h("option", { value: s.site_id }, s.display_name || s.site_id)));
  sel.value = current;
}

function zone() {
  const chosen = $("#stats-zone").value;
  if (chosen) return [chosen, t("stats.zone_chosen")];
  const site = sites.find((s) => s.site_id === $("#stats-site").value);
  if (site && site.time_zone) return [site.time_zone, t("stats.zone_site", { site: site.display_name || site.site_id })];
  return [BROWSER_ZONE, t("stats.zone_browser")];
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
  $("#stats-zone-note").textContent = t("stats.zone_note", { tz, why });
  const site = $("#stats-site").value;
  const canIntegrity = session.can("integrity.read");
  const canFigures = session.can("statistics.read");
  for (const n of ["violations", "response", "citations", "flights"]) $(`#stats-${n}-chart-figure`).hidden = !canFigures;
  for (const n of ["violations", "response", "outcomes", "citations", "flights"]) $(`#stats-${n}`).hidden = !canFigures;
  $("#stats-integrity-chart-figure").hidden = !canIntegrity;
  $("#stats-integrity").hidden = !canIntegrity;
  const calls = [];
  if (canFigures) {
    calls.push(api("/api/v1/statistics/alerts", { query: { ...query, site_id: site } }).then(showAlerts));
    calls.push(api("/api/v1/statistics/alert-outcomes", { query: { since: query.since, until: query.until, site_id: site } }).then(showOutcomes));
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
  chart("stats-violations-chart", months, monthly(months, d.violations, (r) => r.type, (r) => r.alerts), t("stats.axis_alerts"));
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
    { label: t("stats.ack_median_worst"), values: months.map((m) => (per.get(m)?.ack || 0) / 60) },
    { label: t("stats.resolve_median_worst"), values: months.map((m) => (per.get(m)?.resolve || 0) / 60) },
  ], t("stats.axis_minutes"));
  reportTable($("#stats-violations"), {
    title: t("stats.violations"), name: `violations-${d.time_zone.replace("/", "_")}`, rows: d.violations,
    columns: [{ key: "month", label: t("stats.col_month") }, { key: "site_id", label: t("stats.site") }, { key: "type", label: t("stats.col_type") },
      { key: "alerts", label: t("stats.col_alerts") }, { key: "events", label: t("stats.col_events") }, { key: "false_alarms", label: t("stats.col_false_alarms") }],
  });
  reportTable($("#stats-response"), {
    title: t("stats.response"), name: "response-times", rows: d.response_times,
    columns: [{ key: "month", label: t("stats.col_month") }, { key: "site_id", label: t("stats.site") }, { key: "alerts", label: t("stats.col_alerts") },
      { key: "acknowledged", label: t("stats.col_acknowledged") }, { key: "ack_median_s", label: t("stats.col_ack_median"), format: minutes },
      { key: "ack_p90_s", label: t("stats.col_ack_p90"), format: minutes }, { key: "resolved", label: t("stats.col_resolved") },
      { key: "resolve_median_s", label: t("stats.col_resolve_median"), format: minutes }, { key: "resolve_p90_s", label: t("stats.col_resolve_p90"), format: minutes }],
  });
  if (d.truncated) showError(t("stats.truncated", { n: d.scanned }));
}

// How often each rule was right, from the outcomes operators resolved its alerts with.
function showOutcomes(d) {
  reportTable($("#stats-outcomes"), {
    title: t("stats.outcomes"), name: "alert-outcomes", rows: d.rules || [],
    columns: [{ key: "type", label: t("stats.col_type") }, { key: "rule_id", label: t("stats.col_rule") },
      { key: "resolved", label: t("stats.col_resolved") }, { key: "true_alarms", label: t("stats.col_true_alarms") },
      { key: "false_alarms", label: t("stats.col_false_alarms") }, { key: "not_judged", label: t("stats.col_not_judged") },
      { key: "precision", label: t("stats.col_precision"), format: (p) => (p === null || p === undefined ? "" : `${Math.round(p * 100)} %`) }],
  });
  $("#stats-outcomes").append(h("p", { class: "note" }, t("stats.outcomes_note")));
}

function showCitations(d, query) {
  const rows = d.citations || [];
  const months = monthsOf(query, rows);
  const series = ["issued", "paid", "contested", "upheld", "voided"].map((k) => ({
    label: label("citation_status", k), values: monthly(months, rows, () => k, (r) => r[k])[0]?.values || months.map(() => 0),
  }));
  chart("stats-citations-chart", months, series, t("stats.axis_citations"));
  reportTable($("#stats-citations"), {
    title: t("stats.citations"), name: "citations", rows,
    columns: [{ key: "month", label: t("stats.col_month") }, { key: "unit_id", label: t("stats.col_unit") }, { key: "offence_code", label: t("citations.offence") },
      ...["issued", "paid", "contested", "upheld", "voided"].map((k) => ({ key: k, label: t(`stats.col_${k}`) }))],
  });
}

function showIntegrity(d, query) {
  const rows = d.integrity_reports || [];
  const months = monthsOf(query, rows);
  chart("stats-integrity-chart", months, monthly(months, rows, () => t("stats.series_reports"), (r) => r.reports), t("stats.axis_reports"));
  reportTable($("#stats-integrity"), {
    title: t("stats.integrity"), name: "integrity-reports", rows,
    columns: [{ key: "month", label: t("stats.col_month") }, { key: "reports", label: t("stats.col_reports") }],
  });
}

function showFlights(d, query) {
  const rows = d.figures || [];
  const months = monthsOf(query, rows);
  chart("stats-flights-chart", months, monthly(months, rows, () => t("stats.series_flight_hours"), (r) => r.flight_hours), t("stats.axis_hours"));
  reportTable($("#stats-flights"), {
    title: t("stats.flights"), name: "flights", rows,
    columns: [{ key: "month", label: t("stats.col_month") }, { key: "drone_id", label: t("stats.col_drone") },
      { key: "flight_hours", label: t("stats.col_flight_hours"), format: hours }, { key: "missions", label: t("stats.col_missions") },
      { key: "completed", label: t("stats.col_completed") }, { key: "aborted", label: t("stats.col_aborted") }, { key: "alert_missions", label: t("stats.col_for_alerts") }],
  });
}
