// The shared look (served by /web/api/style from suanli.catalog.cartography, which the
// simulation report uses too): projection, utilization colour classes, hub colours, names
// and China's outline.

let doc = null;

export async function loadStyle(getJson) {
  doc = await getJson("/web/api/style", {}, { auth: false });
  return doc;
}

export const style = () => doc;

/** The colour class index of a utilization in [0, 1]. */
export function utilClass(u) {
  const edges = doc.util_edges;
  const x = Number.isFinite(u) ? u : 0;
  for (let i = 1; i < edges.length - 1; i++) if (x < edges[i]) return i - 1;
  return doc.util_colours.length - 1;
}

export const utilColour = (u) => doc.util_colours[utilClass(u)];

/** (label, colour) per utilization class, e.g. ["2–5%", "#6baed6"]. */
export function utilLegend() {
  const e = doc.util_edges;
  const pct = (x) => `${+(x * 100).toFixed(1)}%`;
  return doc.util_colours.map((c, i) => [e[i + 1] < 1 ? `${pct(e[i])}–${pct(e[i + 1])}` : `≥${pct(e[i])}`, c]);
}

export function hubColour(hub, i = 0) {
  return doc.hub_colours[hub] || doc.extra_colours[i % doc.extra_colours.length];
}

/**
 * The shared projection: equirectangular, longitude scaled by cos(35°), `bounds` fitted
 * into a width x height box with a margin (the same formula as cartography.project).
 */
export function projection(width, height, bounds = doc.projection.bounds, margin = 10) {
  const cos = doc.projection.cos_ref;
  const w = (bounds.lon_max - bounds.lon_min) * cos;
  const h = bounds.lat_max - bounds.lat_min;
  const k = Math.min((width - 2 * margin) / w, (height - 2 * margin) / h);
  const ox = (width - w * k) / 2;
  const oy = (height - h * k) / 2;
  const fn = ([lon, lat]) => [ox + (lon - bounds.lon_min) * cos * k, oy + (bounds.lat_max - lat) * k];
  fn.scale = k;
  return fn;
}
