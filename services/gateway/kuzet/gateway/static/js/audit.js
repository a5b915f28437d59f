// Audit trails for auditors: list one service's records, verify every keyed hash chain and its anchor.
import { api } from "./api.js";
import { $, clear, h, showError } from "./dom.js";
import { t } from "./i18n.js";

// The trail API lists oldest first. To show the newest first, the view walks back in time by
// windows [since, until): each window is read whole, shown newest first, and "Older" reads the
// window before it. A window too full for one read is halved; an empty one is doubled until a
// read with no lower bound finds that nothing older exists.
const PAGE = 500;
const HOUR = 3600e3;
const FOREVER = 20 * 365 * 24 * HOUR;
let until = null; // ms: the lower edge of what is shown; null before the first read
let span = HOUR;
let generation = 0;

const iso = (ms) => new Date(ms).toISOString();

async function readWindow(sinceMs, untilMs) {
  const query = { service: $("#audit-service").value, action_prefix: $("#audit-action").value, page_size: PAGE };
  if (sinceMs !== null) query.since = iso(sinceMs);
  if (untilMs !== null) query.until = iso(untilMs);
  return api("/api/v1/audit", { query });
}

// The records of the newest window before `until` that holds any, newest first, and the
// window's lower edge (null: nothing older is left).
async function older() {
  const top = until === null ? Date.now() : until;
  for (let tries = 0; tries < 64; tries++) {
    const unbounded = span >= FOREVER;
    const since = unbounded ? null : top - span;
    const data = await readWindow(since, until);
    const full = !!(data.page && data.page.next_page_token);
    // More than a page in one millisecond is not split further: its oldest page is shown.
    if (full && span > 1) { span /= 2; continue; }
    if (!data.records.length && !unbounded) { span *= 4; continue; }
    return { records: [...data.records].reverse(), since };
  }
  return { records: [], since: null };
}

export async function loadAudit(more = false) {
  const rows = $("#audit-rows");
  const mine = more ? generation : ++generation;
  if (!more) { until = null; span = HOUR; }
  try {
    const { records, since } = await older();
    if (mine !== generation) return;
    if (!more) clear(rows);
    for (const r of records) {
      rows.append(h("tr", {}, h("td", {}, r.seq), h("td", {}, r.recorded_at), h("td", {}, r.actor),
        h("td", {}, r.action), h("td", {}, r.target), h("td", {}, r.outcome)));
    }
    until = since;
    $("#audit-more").hidden = since === null;
    if (!more && !records.length) rows.append(h("tr", {}, h("td", { colspan: 6, class: "note" }, t("audit.no_records"))));
  } catch (e) { showError(t("audit.load_failed", { message: e.message })); }
}

// Where each trail's head is anchored outside the database, and whether object lock keeps it.
function anchorNote(res) {
  const a = res.latest_anchor;
  const where = a ? t("audit.anchored", { seq: a.seq, at: a.anchored_at }) : t("audit.not_anchored");
  const store = res.anchor_store ? t("audit.anchor_store", { store: res.anchor_store }) : "";
  const legacy = Number(res.legacy_records) ? t("audit.legacy", { n: res.legacy_records }) : "";
  return `${where}${store}${legacy}`;
}

async function verify() {
  const out = clear($("#audit-verify-results"));
  out.append(h("li", {}, t("audit.verifying")));
  try {
    const data = await api("/api/v1/audit/verify", { method: "POST" });
    clear(out);
    for (const r of data.results) {
      if (r.error) out.append(h("li", { class: "warn" }, t("audit.unavailable", { service: r.service, message: r.error.message })));
      else if (r.result.ok) out.append(h("li", { class: "ok" }, t("audit.intact", { service: r.service, n: r.result.records_checked }) + anchorNote(r.result)));
      else out.append(h("li", { class: "bad" }, t("audit.broken", { service: r.service, seq: r.result.first_bad_seq }) + ` — ${r.result.reason}`));
    }
  } catch (e) { clear(out); showError(t("audit.verify_failed", { message: e.message })); }
}

document.addEventListener("DOMContentLoaded", () => {
  $("#audit-service").addEventListener("change", () => loadAudit());
  $("#audit-action").addEventListener("change", () => loadAudit());
  $("#audit-more").addEventListener("click", () => loadAudit(true));
  $("#audit-verify").addEventListener("click", verify);
});
