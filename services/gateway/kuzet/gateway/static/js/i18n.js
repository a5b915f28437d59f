// Languages and time for the console. Strings come from static/i18n/<lang>.json (en, ru, kk);
// a value may be {one, few, many, other} for plural forms, picked by Intl.PluralRules on {n}.
// Times are shown with Intl.DateTimeFormat in the chosen language, in the site's time zone when
// the view knows the site (alerting's site configuration), otherwise in the zone the user chose.
// Both choices are kept in localStorage; the first language is the browser's (Accept-Language).
export const LANGUAGES = { en: "English", ru: "Русский", kk: "Қазақша" };
export const TIME_ZONES = ["Asia/Almaty", "Asia/Aqtobe", "UTC"];
const LANG_KEY = "kuzet.lang";
const ZONE_KEY = "kuzet.tz";

let lang = "en";
let catalogue = {};
const siteZones = new Map();

function preferred() {
  const kept = localStorage.getItem(LANG_KEY);
  if (kept && kept in LANGUAGES) return kept;
  for (const tag of navigator.languages || [navigator.language || "en"]) {
    const base = String(tag).toLowerCase().split("-")[0];
    if (base in LANGUAGES) return base;
  }
  return "en";
}

export const language = () => lang;
export const timeZone = () => localStorage.getItem(ZONE_KEY) || TIME_ZONES[0];

export async function initI18n() {
  lang = preferred();
  const resp = await fetch(`/static/i18n/${lang}.json`);
  catalogue = resp.ok ? await resp.json() : {};
  document.documentElement.lang = lang;
  translateStatic(document);
}

export function t(key, params = {}) {
  let text = catalogue[key];
  if (text && typeof text === "object") {
    const form = new Intl.PluralRules(lang).select(Number(params.n) || 0);
    text = text[form] ?? text.other;
  }
  if (typeof text !== "string") text = key; // a missing key shows itself, and the catalogue test fails
  return text.replace(/\{(\w+)\}/g, (m, k) => (k in params ? String(params[k]) : m));
}

export const has = (key) => key in catalogue;

// Names of enum values and event types: the catalogue's, else the raw name made readable.
export function label(family, value) {
  const key = `${family}.${value}`;
  return has(key) ? t(key) : String(value || "").replace(/_/g, " ");
}

// Static HTML: data-i18n sets the text, data-i18n-<attribute> an attribute (placeholder, aria-label, title).
export function translateStatic(root) {
  for (const el of root.querySelectorAll("*")) {
    for (const { name, value } of [...el.attributes]) {
      if (name === "data-i18n") el.textContent = t(value);
      else if (name.startsWith("data-i18n-")) el.setAttribute(name.slice("data-i18n-".length), t(value));
    }
  }
}

export function setLanguage(code) {
  if (!(code in LANGUAGES)) return;
  localStorage.setItem(LANG_KEY, code);
  location.reload(); // every view is drawn again in the new language; the session survives
}

export function setTimeZone(zone) {
  localStorage.setItem(ZONE_KEY, zone);
  location.reload();
}

// site_id -> IANA zone, from alerting's site configurations the caller may read.
export function setSiteZones(configs) {
  siteZones.clear();
  for (const c of configs || []) if (c.site_id && c.time_zone) siteZones.set(c.site_id, c.time_zone);
}

export function zoneOf(siteId) { return (siteId && siteZones.get(siteId)) || timeZone(); }

export function formatTime(ts, siteId = "") {
  if (!ts) return "";
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return ts;
  try {
    return new Intl.DateTimeFormat(lang, { dateStyle: "short", timeStyle: "medium", timeZone: zoneOf(siteId) }).format(d);
  } catch { // an unknown zone in a site's configuration: the user's own
    return new Intl.DateTimeFormat(lang, { dateStyle: "short", timeStyle: "medium", timeZone: timeZone() }).format(d);
  }
}

// The header's pickers; a change is kept and the page drawn again.
export function mountPickers(langSelect, zoneSelect) {
  for (const [code, name] of Object.entries(LANGUAGES))
    langSelect.append(new Option(name, code, false, code === lang));
  for (const zone of TIME_ZONES) zoneSelect.append(new Option(zone, zone, false, zone === timeZone()));
  langSelect.addEventListener("change", () => setLanguage(langSelect.value));
  zoneSelect.addEventListener("change", () => setTimeZone(zoneSelect.value));
}
