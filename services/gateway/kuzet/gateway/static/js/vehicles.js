// How an observed vehicle is shown: where (the traffic camera's name and site, the lane) and its
// snapshot. Shared by the hotlist hits and the plate search.
import { h } from "./dom.js";
import { t } from "./i18n.js";

export const trafficCameras = new Map();

export function placeOf(obs) {
  const cam = trafficCameras.get(obs.camera_id);
  const name = (cam && cam.name) || obs.camera_id || "—";
  const site = cam && cam.site_id ? `, ${cam.site_id}` : "";
  return `${name}${site}${obs.lane ? `, ${t("vehicles.lane", { lane: obs.lane })}` : ""}`;
}

// Links are signed per listing and live two minutes: a picture that failed says so.
const broken = (e) => e.target.classList.add("broken");

export function snapshotOf(obs) {
  if (obs.snapshot_url) {
    return h("img", { class: "thumb", src: obs.snapshot_url, alt: t("vehicles.vehicle", { plate: obs.plate || "" }).trim(), loading: "lazy", onerror: broken });
  }
  // Links come only to the roles that may view evidence.
  const held = obs.snapshot && obs.snapshot.key;
  return h("div", { class: "thumb none" }, held ? t("vehicles.not_for_role") : t("reviews.no_image"));
}

export function plateCropOf(obs) {
  return obs.plate_crop_url
    ? h("img", { class: "plate-crop", src: obs.plate_crop_url, alt: t("vehicles.plate", { plate: obs.plate }), loading: "lazy", onerror: broken })
    : null;
}
