// Tiny DOM helpers. Text always goes through text nodes, never parsed as HTML: alert summaries,
// names and notes come from devices and people and must not become markup.
import { formatTime, t } from "./i18n.js";

export function h(tag, attrs = {}, ...children) {
  const svg = ["svg", "circle", "rect", "text", "g", "title", "line", "polygon"].includes(tag);
  const el = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.setAttribute("class", v);
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export const $ = (sel) => document.querySelector(sel);

export function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }

export function short(enumName, prefix) {
  if (!enumName) return "";
  return enumName.startsWith(prefix) ? enumName.slice(prefix.length).toLowerCase().replace(/_/g, " ") : enumName;
}

// In the language and time zone of the console; a site's own zone when the site is known.
export const when = (ts, siteId = "") => formatTime(ts, siteId);

export function ago(ts) {
  if (!ts) return "";
  const s = Math.round((Date.now() - new Date(ts).getTime()) / 1000);
  if (s < 60) return t("time.seconds_ago", { n: Math.max(0, s) });
  if (s < 3600) return t("time.minutes_ago", { n: Math.round(s / 60) });
  return t("time.hours_ago", { n: Math.round(s / 3600) });
}

const SOURCE_KINDS = { SOURCE_KIND_CAMERA: "source.camera", SOURCE_KIND_BADGE: "source.badge", SOURCE_KIND_DRONE: "source.drone" };

export function sourceText(src) {
  const name = (src && (src.name || src.id)) || "—";
  return t(SOURCE_KINDS[src && src.kind] || "source.other", { name });
}

export function position(loc) {
  if (!loc || !(loc.latitude || loc.longitude)) return "";
  const acc = Number(loc.accuracy_m) ? ` (±${Math.round(Number(loc.accuracy_m))} m)` : "";
  return `${Number(loc.latitude || 0).toFixed(5)}, ${Number(loc.longitude || 0).toFixed(5)}${acc}`;
}

// Where an alert is, as [class, text] pairs: a badge belongs to a unit and has a position and an
// officer; a camera has a site and a zone. Panic alerts are found by their position.
export function place(a) {
  const latest = a.latest || {};
  const attrs = latest.attributes || {};
  const out = [];
  if (a.source && a.source.kind === "SOURCE_KIND_BADGE") {
    out.push(["unit", t("place.unit", { unit: a.source.site_id || a.site_id || "—" })]);
    if (attrs.officer_id) out.push(["officer", t("place.officer", { officer: attrs.officer_id })]);
  } else {
    out.push(["zone", t("place.zone", { zone: a.zone_id || "—" })], ["site", t("place.site", { site: a.site_id || "—" })]);
  }
  const pos = position(latest.location);
  if (pos) out.push(["position", t("place.position", { position: pos })]);
  return out;
}

const SEVERITY_ORDER = { SEVERITY_CRITICAL: 5, SEVERITY_HIGH: 4, SEVERITY_MEDIUM: 3, SEVERITY_LOW: 2, SEVERITY_INFO: 1 };
export const severityRank = (s) => SEVERITY_ORDER[s] || 0;

export function showError(message) {
  const el = $("#error-banner");
  // An open modal (the alert detail) covers the page: the message goes on top of it.
  const modal = document.querySelector("dialog[open]");
  const home = modal || $("main");
  if (el.parentElement !== home) home.append(el);
  el.textContent = message;
  el.hidden = !message;
  if (message) setTimeout(() => { if (el.textContent === message) el.hidden = true; }, 8000);
}
