// Console entry: sign-in, tabs by permission, view switching.
import { api, session, setUnauthenticatedHandler, signIn } from "./api.js";
import { startAlerts, stopAlerts } from "./alerts.js";
import { loadAudit } from "./audit.js";
import { drawMap, loadCameras } from "./cameras.js";
import { $, clear, h, showError } from "./dom.js";
import { initI18n, mountPickers, setSiteZones, t } from "./i18n.js";
import { loadOversight } from "./oversight.js";
import { loadDispatch } from "./dispatch.js";
import { loadBadges, loadDrones, loadIntegrity } from "./fleet.js";
import { loadLiveMap, stopLiveMap } from "./map.js";
import { loadReviews } from "./reviews.js";
import { loadTraffic } from "./traffic.js";
import { loadCitations } from "./citations.js";
import { loadEvidence } from "./evidence.js";
import { loadStatistics } from "./statistics.js";
import { loadSiteSearch } from "./sitesearch.js";

const VIEWS = [
  // First: an overseer lands on the oversight alerts, the work the role exists for. Opened by the
  // role, not a permission: every permission the role has is shared with prison roles.
  { id: "oversight", label: "tab.oversight", role: "oversight", load: loadOversight },
  { id: "alerts", label: "tab.alerts", perm: "alerts.read", load: () => {} },
  { id: "reviews", label: "tab.reviews", perm: "reviews.read", load: loadReviews },
  // Before the record views: an auditor lands on the audit trail, the work the role exists for.
  { id: "audit", label: "tab.audit", perm: "audit.read", load: () => loadAudit() },
  { id: "cameras", label: "tab.cameras", perm: "cameras.read", load: loadCameras },
  { id: "live", label: "tab.live", perm: ["drones.read", "badges.read", "cameras.read"], load: async () => { await loadLiveMap(); await loadDispatch(); } },
  { id: "map", label: "tab.map", perm: "cameras.read", load: async () => { await loadCameras(); drawMap(); } },
  { id: "badges", label: "tab.badges", perm: "badges.read", load: loadBadges },
  { id: "integrity", label: "tab.integrity", perm: "integrity.read", load: loadIntegrity },
  { id: "drones", label: "tab.drones", perm: "drones.read", load: loadDrones },
  { id: "traffic", label: "tab.traffic", perm: "traffic.read", load: loadTraffic },
  { id: "evidence", label: "tab.evidence", perm: "recordings.read", load: loadEvidence },
  { id: "sites-search", label: "tab.sites_search", perm: "federation.search", load: loadSiteSearch },
  { id: "citations", label: "tab.citations", perm: "citations.read", load: loadCitations },
  { id: "statistics", label: "tab.statistics", perm: ["statistics.read", "integrity.read"], load: loadStatistics },
];

// A view with several permissions opens for a user with any of them.
const mayOpen = (v) => (v.role ? (session.me.roles || []).includes(v.role) : [].concat(v.perm).some((p) => session.can(p)));

function show(id) {
  for (const v of VIEWS) {
    $(`#view-${v.id}`).hidden = v.id !== id;
    const tab = document.querySelector(`#tabs button[data-view="${v.id}"]`);
    if (tab) tab.setAttribute("aria-current", v.id === id ? "page" : "false");
  }
  const view = VIEWS.find((v) => v.id === id);
  if (view) { location.hash = id; Promise.resolve(view.load()).catch((e) => showError(e.message)); }
}

async function enter() {
  session.me = await api("/api/v1/me");
  $("#signin").hidden = true;
  $("#whoami").textContent = `${session.me.name} · ${session.me.agency} · ${session.me.roles.join(", ")}`;
  // Times of a known site are shown in the site's own zone (alerting's site configuration).
  if (session.can("alerts.read")) setSiteZones((await api("/api/v1/sites").catch(() => ({}))).configs);
  $("#signout").hidden = false;
  const tabs = clear($("#tabs"));
  const mine = VIEWS.filter(mayOpen);
  for (const v of mine) tabs.append(h("button", { dataset: { view: v.id }, onclick: () => show(v.id) }, t(v.label)));
  tabs.hidden = mine.length === 0;
  if (session.can("alerts.read")) await startAlerts();
  const wanted = location.hash.slice(1);
  if (mine.length) show(mine.some((v) => v.id === wanted) ? wanted : mine[0].id);
  else showError(t("main.no_view"));
}

function signOut(message = "") {
  session.token = null;
  session.me = null;
  stopAlerts();
  stopLiveMap();
  for (const v of VIEWS) $(`#view-${v.id}`).hidden = true;
  $("#tabs").hidden = true;
  $("#signout").hidden = true;
  $("#feed-status").hidden = true;
  $("#whoami").textContent = "";
  $("#signin").hidden = false;
  $("#signin-error").textContent = message;
}

window.addEventListener("hashchange", () => {
  const id = location.hash.slice(1);
  const view = VIEWS.find((v) => v.id === id);
  if (view && mayOpen(view) && $(`#view-${id}`).hidden) show(id);
});

async function boot() {
  await initI18n();
  mountPickers($("#lang-picker"), $("#tz-picker"));
  setUnauthenticatedHandler((msg) => signOut(t("main.signed_out", { message: msg })));
  $("#signout").addEventListener("click", () => signOut());
  const cfg = await api("/api/v1/config").catch(() => ({ local_issuer: false }));
  $("#signin-form").hidden = !cfg.local_issuer;
  $("#token-form").hidden = !!cfg.local_issuer;
  $("#issuer-note").textContent = t(cfg.local_issuer ? "signin.local_note" : "signin.token_note");
  $("#signin-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("#signin-error").textContent = "";
    try {
      session.token = await signIn($("#username").value, $("#password").value);
      $("#password").value = "";
      await enter();
    } catch (e) { $("#signin-error").textContent = e.message; }
  });
  $("#token-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    session.token = $("#token-input").value.trim();
    try { await enter(); } catch (e) { $("#signin-error").textContent = e.message; }
  });
  if (session.token) {
    try { await enter(); return; } catch { session.token = null; }
  }
  signOut();
}

document.addEventListener("DOMContentLoaded", boot);
