// Console entry: sign-in, tabs by permission, view switching.
import { api, session, setUnauthenticatedHandler, signIn } from "./api.js";
import { startAlerts, stopAlerts } from "./alerts.js";
import { loadAudit } from "./audit.js";
import { drawMap, loadCameras } from "./cameras.js";
import { $, clear, h, showError } from "./dom.js";
import { loadDispatch } from "./dispatch.js";
import { loadBadges, loadDrones, loadIntegrity } from "./fleet.js";
import { loadLiveMap, stopLiveMap } from "./map.js";
import { loadReviews } from "./reviews.js";
import { loadTraffic } from "./traffic.js";
import { loadCitations } from "./citations.js";
import { loadEvidence } from "./evidence.js";
import { loadStatistics } from "./statistics.js";

const VIEWS = [
  { id: "alerts", label: "Alerts", perm: "alerts.read", load: () => {} },
  { id: "reviews", label: "Reviews", perm: "reviews.read", load: loadReviews },
  // Before the record views: an auditor lands on the audit trail, the work the role exists for.
  { id: "audit", label: "Audit", perm: "audit.read", load: () => loadAudit() },
  { id: "cameras", label: "Cameras", perm: "cameras.read", load: loadCameras },
  { id: "live", label: "Map", perm: ["drones.read", "badges.read", "cameras.read"], load: async () => { await loadLiveMap(); await loadDispatch(); } },
  { id: "map", label: "Site plan", perm: "cameras.read", load: async () => { await loadCameras(); drawMap(); } },
  { id: "badges", label: "Badges", perm: "badges.read", load: loadBadges },
  { id: "integrity", label: "Integrity", perm: "integrity.read", load: loadIntegrity },
  { id: "drones", label: "Drones", perm: "drones.read", load: loadDrones },
  { id: "traffic", label: "Traffic", perm: "traffic.read", load: loadTraffic },
  { id: "evidence", label: "Evidence", perm: "recordings.read", load: loadEvidence },
  { id: "citations", label: "Citations", perm: "citations.read", load: loadCitations },
  { id: "statistics", label: "Statistics", perm: ["statistics.read", "integrity.read"], load: loadStatistics },
];

// A view with several permissions opens for a user with any of them.
const mayOpen = (v) => [].concat(v.perm).some((p) => session.can(p));

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
  $("#signout").hidden = false;
  const tabs = clear($("#tabs"));
  const mine = VIEWS.filter(mayOpen);
  for (const v of mine) tabs.append(h("button", { dataset: { view: v.id }, onclick: () => show(v.id) }, v.label));
  tabs.hidden = mine.length === 0;
  if (session.can("alerts.read")) await startAlerts();
  const wanted = location.hash.slice(1);
  if (mine.length) show(mine.some((v) => v.id === wanted) ? wanted : mine[0].id);
  else showError("Your roles give you no console view.");
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
  setUnauthenticatedHandler((msg) => signOut(`Signed out: ${msg}`));
  $("#signout").addEventListener("click", () => signOut());
  const cfg = await api("/api/v1/config").catch(() => ({ local_issuer: false }));
  $("#signin-form").hidden = !cfg.local_issuer;
  $("#token-form").hidden = !!cfg.local_issuer;
  $("#issuer-note").textContent = cfg.local_issuer
    ? "Local sign-in (one-machine demo issuer). Production deployments sign in at the agency's identity provider."
    : "Paste an access token issued by your agency's identity provider.";
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
