// A camera's live view: the gateway's MJPEG stream (/cameras/{id}/live, the latest frames with
// the camera's zones and current tracks drawn by ingest), read with fetch because an <img> cannot
// send the bearer token. Each opening is one audited view; the stream ends after its `seconds`
// and is reopened while the dialog stays open.
import { session } from "./api.js";
import { $, h, when } from "./dom.js";
import { t } from "./i18n.js";

const BOUNDARY = "--kuzet-frame\r\n";
const SECONDS = 120;
let running = null; // { abort: AbortController, site: the camera's site, for its time zone }

export const canWatch = () => session.can("evidence.view");

function dialog() {
  let dlg = $("#live-view");
  if (dlg) return dlg;
  dlg = h("dialog", { id: "live-view", class: "detail live", "aria-labelledby": "live-title" },
    h("h2", { id: "live-title" }),
    h("img", { id: "live-frame", class: "live-frame", alt: "" }),
    h("p", { id: "live-status", class: "note" }),
    h("p", { class: "note" }, t("live.note")),
    h("form", { method: "dialog" }, h("button", { class: "secondary", id: "live-close" }, t("live.close"))));
  dlg.addEventListener("close", stop);
  document.body.append(dlg);
  return dlg;
}

function stop() {
  if (running) running.abort.abort();
  running = null;
  const img = $("#live-frame");
  if (img && img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
}

export function openLive(camera) {
  const dlg = dialog();
  stop();
  $("#live-title").textContent = t("live.title", { camera: camera.name || camera.id });
  $("#live-status").textContent = t("live.connecting");
  dlg.showModal();
  const run = { abort: new AbortController(), site: camera.site_id || "" };
  running = run;
  (async () => {
    while (running === run) {
      try {
        await stream(camera.id, run.abort.signal);
      } catch (e) {
        if (running !== run) return;
        $("#live-status").textContent = t("live.stopped", { message: e.message });
        return;
      }
    }
  })();
}

// Bytes of the multipart body to JPEG parts: each part's headers name its Content-Length.
async function stream(cameraId, signal) {
  const url = new URL(`/api/v1/cameras/${encodeURIComponent(cameraId)}/live`, location.origin);
  url.searchParams.set("seconds", String(SECONDS));
  const resp = await fetch(url, { headers: { Authorization: `Bearer ${session.token}` }, signal });
  if (!resp.ok) {
    let message = resp.statusText;
    try { message = (await resp.json()).error.message; } catch { /* not JSON */ }
    throw new Error(message);
  }
  const reader = resp.body.getReader();
  let buf = new Uint8Array(0);
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    const joined = new Uint8Array(buf.length + value.length);
    joined.set(buf); joined.set(value, buf.length);
    buf = joined;
    for (let part = take(buf); part; part = take(buf)) {
      buf = buf.subarray(part.end);
      show(part.jpeg);
    }
  }
}

const decoder = new TextDecoder();

function take(buf) {
  const text = decoder.decode(buf.subarray(0, Math.min(buf.length, 256)));
  const start = text.indexOf(BOUNDARY);
  const headEnd = text.indexOf("\r\n\r\n", start);
  if (start < 0 || headEnd < 0) return null;
  const length = Number((/Content-Length: (\d+)/i.exec(text.slice(start, headEnd)) || [])[1]);
  const from = headEnd + 4;
  if (!length || buf.length < from + length) return null;
  return { jpeg: buf.slice(from, from + length), end: from + length };
}

function show(jpeg) {
  const img = $("#live-frame");
  if (!img) return;
  const old = img.src;
  img.src = URL.createObjectURL(new Blob([jpeg], { type: "image/jpeg" }));
  if (old.startsWith("blob:")) URL.revokeObjectURL(old);
  $("#live-status").textContent = t("live.updated", { time: when(new Date().toISOString(), running ? running.site : "") });
}
