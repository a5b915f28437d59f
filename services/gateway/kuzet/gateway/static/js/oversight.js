// The oversight agency's view (docs/oversight.md): the signs of abuse by staff in the agencies it
// oversees, with their evidence, read-only. Alerting decides which alerts reach this user; the
// list is the live alert feed narrowed to the oversight types.
import { alertStore, row } from "./alerts.js";
import { $, clear } from "./dom.js";

export const OVERSIGHT_TYPES = ["staff_violence", "staff_alone_with_detainee", "camera_obscured_with_staff"];

let hooked = false;

function render() {
  const list = $("#oversight-list");
  if (!list) return;
  const items = alertStore.all()
    .filter((a) => OVERSIGHT_TYPES.includes(a.type))
    .sort((a, b) => String(b.last_seen_at).localeCompare(String(a.last_seen_at)));
  clear(list).append(...items.map(row));
  $("#oversight-empty").hidden = items.length > 0;
}

export function loadOversight() {
  if (!hooked) { hooked = true; alertStore.onChange(render); }
  render();
}
