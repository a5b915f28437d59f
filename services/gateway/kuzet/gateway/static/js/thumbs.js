// Alert thumbnails: one image element per alert while its snapshot is the same, and fresh links
// for images whose signed link expired before they were shown.
import { api, patiently } from "./api.js";
import { h } from "./dom.js";
import { t } from "./i18n.js";

// Every listing and feed update signs a new link to the same snapshot. The row keeps its image
// element while the snapshot is the same: a re-render then fetches nothing, and a row that
// stops getting updates (a resolved one) keeps the picture it loaded.
const kept = new Map();
const snapshotKey = (a) => (a.latest && a.latest.snapshot && a.latest.snapshot.key) || "";

export function thumbOf(a) {
  const key = snapshotKey(a);
  const had = kept.get(a.alert_id);
  if (had && had.key === key) return had.el;
  const camera = (a.source && (a.source.name || a.source.id)) || "";
  // Lazy: only the rows on screen fetch their image (the evidence budget is per address).
  const el = a.snapshot_url
    ? h("img", { class: "thumb", src: a.snapshot_url, alt: t("detail.snapshot_of", { source: camera }), loading: "lazy",
        onerror: () => renew(a.alert_id, el) })
    : h("div", { class: "thumb none" }, t("reviews.no_image"));
  kept.set(a.alert_id, { key, el });
  return el;
}

export function forgetThumbs() { kept.clear(); waiting.clear(); }

// A lazy image scrolled into view (or shown by a larger window) after its link expired is
// refused. A fresh link comes from the API, which is the operator's own per-user budget, not the
// evidence budget: one call per image spent it at once when a screenful of old rows came into
// view (HTTP 429 and a broken picture each). So the images that fail together are renewed
// together, by one listing that signs every link of its page, with one call in flight at a
// time; an alert not on that page is asked for alone, and a refusal waits out its Retry-After.
export const ALERT_PAGE = { page_size: 200, order: "priority" }; // what the alert view lists
const GATHER_MS = 150;
const RECENT_MS = 10000;
const waiting = new Map(); // alert id -> image element waiting for a fresh link
let draining = false;

function broken(el) { el.classList.add("broken"); }

function renew(id, el) {
  // A fresh link that fails at once is not an expiry: say so instead of asking again.
  if (Date.now() - Number(el.dataset.renewedAt || 0) < RECENT_MS) { broken(el); return; }
  el.dataset.renewedAt = String(Date.now());
  el.classList.remove("broken");
  waiting.set(id, el);
  if (!draining) drain();
}

async function drain() {
  draining = true;
  try {
    while (waiting.size) {
      await new Promise((done) => setTimeout(done, GATHER_MS));
      const batch = new Map(waiting);
      waiting.clear();
      const links = new Map();
      if (batch.size > 1) {
        try {
          const page = await patiently(() => api("/api/v1/alerts", { query: ALERT_PAGE }));
          for (const a of page.alerts) if (batch.has(a.alert_id)) links.set(a.alert_id, a.snapshot_url);
        } catch { /* each is asked for alone below */ }
      }
      for (const id of batch.keys()) {
        if (links.has(id)) continue;
        try {
          const one = await patiently(() => api(`/api/v1/alerts/${encodeURIComponent(id)}`));
          links.set(id, one.alert.snapshot_url);
        } catch { /* gone, or not ours any more: shown as broken */ }
      }
      for (const [id, el] of batch) {
        const url = links.get(id);
        if (url) el.src = url; else broken(el);
      }
    }
  } finally { draining = false; }
}
