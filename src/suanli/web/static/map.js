// Map of China drawn in SVG from latitude/longitude (equirectangular, longitude scaled by
// cos 35°). The outline is a coarse hand-written polygon of well-known border and coast
// points: enough to orient the eye, not a survey.

import { attachTip, el, fmt, text, utilColour } from "./svg.js";

const MAINLAND = [
  [121.5, 53.3], [123.5, 53.5], [125.7, 52.9], [127.4, 50.4], [127.6, 49.8], [130.0, 48.9],
  [130.7, 48.4], [132.5, 47.8], [133.5, 48.2], [134.7, 48.3], [134.3, 47.4], [133.9, 46.2],
  [133.1, 45.1], [131.9, 45.3], [131.0, 44.8], [131.3, 43.4], [131.0, 42.9], [130.6, 42.5],
  [129.5, 42.4], [128.9, 42.0], [128.0, 42.0], [127.0, 41.6], [126.0, 40.9], [124.4, 40.0],
  [123.5, 39.7], [122.0, 39.1], [121.2, 38.8], [121.6, 39.5], [122.2, 40.4], [121.6, 40.9],
  [120.9, 40.6], [119.6, 39.9], [118.9, 39.2], [117.7, 38.9], [117.8, 38.3], [118.9, 37.6],
  [119.3, 37.1], [120.7, 37.8], [122.2, 37.5], [122.6, 37.2], [121.4, 36.7], [120.6, 36.3],
  [120.1, 35.9], [119.4, 35.1], [119.2, 34.5], [120.3, 33.2], [120.9, 32.5], [121.9, 31.7],
  [121.9, 30.9], [121.9, 30.0], [121.6, 29.2], [121.4, 28.3], [120.6, 27.6], [120.1, 26.8],
  [119.6, 26.0], [119.1, 25.2], [118.2, 24.5], [117.2, 23.6], [116.5, 23.0], [115.4, 22.7],
  [114.3, 22.3], [113.6, 22.2], [112.8, 21.8], [111.7, 21.6], [110.6, 21.2], [110.3, 20.3],
  [109.9, 20.8], [109.7, 21.5], [108.6, 21.7], [108.0, 21.5], [106.7, 22.3], [106.7, 22.8],
  [105.8, 23.0], [105.3, 23.3], [104.5, 22.8], [103.9, 22.5], [103.0, 22.6], [102.2, 22.4],
  [101.6, 21.2], [101.2, 21.4], [100.1, 21.6], [99.3, 22.1], [99.5, 22.9], [98.9, 23.2],
  [98.7, 24.1], [97.7, 23.9], [97.6, 24.8], [98.2, 25.4], [98.7, 25.9], [98.6, 27.3],
  [97.6, 28.4], [96.0, 29.4], [94.6, 29.3], [93.0, 28.7], [92.0, 27.9], [90.5, 28.1],
  [89.6, 28.2], [88.9, 27.3], [88.1, 27.9], [86.9, 28.1], [85.0, 28.6], [83.2, 29.6],
  [82.1, 30.3], [81.2, 30.0], [79.4, 31.0], [78.7, 32.5], [79.4, 33.0], [78.3, 34.5],
  [78.0, 35.5], [75.8, 36.7], [74.8, 37.2], [74.6, 38.5], [73.6, 39.4], [73.8, 39.9],
  [74.8, 40.4], [76.8, 40.9], [78.4, 41.4], [80.2, 42.1], [80.8, 43.2], [80.4, 44.9],
  [82.5, 45.5], [83.0, 47.2], [85.5, 47.1], [85.8, 48.4], [87.8, 49.2], [88.9, 48.1],
  [90.3, 47.7], [91.0, 46.6], [91.0, 45.6], [93.5, 45.0], [95.4, 44.3], [96.4, 42.7],
  [99.5, 42.6], [101.8, 42.5], [104.0, 41.8], [105.0, 41.6], [106.7, 42.3], [109.2, 42.5],
  [110.4, 42.8], [111.8, 43.7], [113.0, 44.8], [114.5, 45.4], [116.7, 46.3], [118.8, 46.8],
  [119.7, 46.7], [119.9, 47.3], [118.5, 47.9], [117.3, 47.7], [115.6, 47.9], [116.7, 49.8],
  [117.9, 49.5], [119.3, 50.1], [119.7, 51.0], [120.8, 52.2], [120.0, 52.8],
];
const HAINAN = [
  [108.6, 19.2], [109.2, 18.4], [110.1, 18.3], [110.6, 18.8], [111.0, 19.7], [110.6, 20.1],
  [109.9, 20.0], [109.2, 19.9],
];
const TAIWAN = [
  [120.1, 23.0], [120.7, 22.0], [121.0, 22.6], [121.6, 24.0], [121.9, 25.0], [121.5, 25.3],
  [121.0, 25.0], [120.2, 23.8],
];

const BOUNDS = { lonMin: 72.5, lonMax: 135.5, latMin: 17.5, latMax: 54.5 };
const COS = Math.cos((35 * Math.PI) / 180);

/** A projection fitting the bounds into a width x height box with a margin. */
export function projection(width, height, margin = 10) {
  const w = (BOUNDS.lonMax - BOUNDS.lonMin) * COS;
  const h = BOUNDS.latMax - BOUNDS.latMin;
  const k = Math.min((width - 2 * margin) / w, (height - 2 * margin) / h);
  const ox = (width - w * k) / 2;
  const oy = (height - h * k) / 2;
  return ([lon, lat]) => [
    ox + (lon - BOUNDS.lonMin) * COS * k,
    oy + (BOUNDS.latMax - lat) * k,
  ];
}

function pathOf(points, project, close = true) {
  const d = points.map((p, i) => {
    const [x, y] = project(p);
    return `${i ? "L" : "M"}${x.toFixed(1)},${y.toFixed(1)}`;
  });
  return d.join("") + (close ? "Z" : "");
}

/** Draw the base: graticule and land. Returns the projection. */
export function drawBase(svg) {
  const [, , width, height] = svg.getAttribute("viewBox").split(" ").map(Number);
  const project = projection(width, height);
  const g = el("g", { class: "base" }, svg);
  for (let lon = 80; lon <= 130; lon += 10) {
    el("path", { class: "graticule", d: pathOf([[lon, 18], [lon, 54]], project, false) }, g);
  }
  for (let lat = 20; lat <= 50; lat += 10) {
    el("path", { class: "graticule", d: pathOf([[73, lat], [135, lat]], project, false) }, g);
  }
  for (const poly of [MAINLAND, HAINAN, TAIWAN]) {
    el("path", { class: "land", d: pathOf(poly, project) }, g);
  }
  return project;
}

function radiusFor(gpus, maxGpus) {
  if (!maxGpus || !gpus) return 4;
  return 4 + 18 * Math.sqrt(gpus / maxGpus);
}

/**
 * Draw sites (circles sized by GPUs listed, coloured by utilization), demand cities and the
 * latency rings around the chosen city. `data` is the document from /web/api/map.
 */
export function drawMarketMap(svg, data, { onSiteClick } = {}) {
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const project = drawBase(svg);
  const rings = el("g", { class: "rings" }, svg);
  for (const ring of data.rings || []) {
    el("path", { class: "ring", d: pathOf(ring.points, project) }, rings);
    const top = ring.points.reduce((a, b) => (b[1] > a[1] ? b : a));
    const [x, y] = project(top);
    text(rings, x + 3, y + 11, `${ring.rtt_ms} ms`, { class: "ring-label" });
  }
  const cities = el("g", { class: "cities" }, svg);
  for (const c of data.cities || []) {
    const [x, y] = project([c.lon, c.lat]);
    const chosen = data.city && c.id === data.city.id;
    const dot = el("circle", { cx: x, cy: y, r: chosen ? 4 : 2.2, class: `city${chosen ? " chosen" : ""}` }, cities);
    attachTip(dot, `${c.name} (demand city)`);
    if (chosen) text(cities, x + 6, y - 6, c.name, { class: "city-label" });
  }
  const maxGpus = Math.max(1, ...(data.sites || []).map((s) => s.gpus_listed || 0));
  const sites = el("g", { class: "sites" }, svg);
  const ordered = [...(data.sites || [])].sort((a, b) => (b.gpus_listed || 0) - (a.gpus_listed || 0));
  for (const s of ordered) {
    const [x, y] = project([s.lon, s.lat]);
    const r = radiusFor(s.gpus_listed, maxGpus);
    const dot = el("circle", {
      cx: x, cy: y, r, class: "site", fill: utilColour(s.utilization), "data-site": s.id,
    }, sites);
    attachTip(dot, [
      `${s.name} · ${s.region}`,
      `GPUs listed ${s.gpus_listed}, leased ${s.gpus_leased}`,
      `utilization ${fmt(100 * (s.utilization || 0), 0)}%`,
      data.city ? `RTT to ${data.city.name}: ${fmt(s.rtt_ms, 1)} ms` : "",
    ].filter(Boolean).join("\n"));
    if (onSiteClick) dot.addEventListener("click", () => onSiteClick(s));
  }
  placeLabels(svg, (data.sites || []).map((s) => ({
    x: project([s.lon, s.lat])[0],
    y: project([s.lon, s.lat])[1],
    r: radiusFor(s.gpus_listed, maxGpus),
    name: s.role === "metro" ? "" : s.name.split(" (")[0], // metro sites sit on their cities
  })));
}

/**
 * Greedy label placement: each label goes right, left, above or below its circle, the
 * first place that covers no circle and no label already placed.
 */
function placeLabels(svg, items) {
  const g = el("g", { class: "labels" }, svg);
  const boxes = [];
  const hitsCircle = (b) => items.some((c) => {
    const nx = Math.max(b.x0, Math.min(c.x, b.x1));
    const ny = Math.max(b.y0, Math.min(c.y, b.y1));
    return (nx - c.x) ** 2 + (ny - c.y) ** 2 < c.r * c.r;
  });
  const hitsBox = (b) => boxes.some((o) => b.x0 < o.x1 && b.x1 > o.x0 && b.y0 < o.y1 && b.y1 > o.y0);
  const order = items.map((it, i) => i).sort((a, b) => items[b].r - items[a].r);
  for (const i of order) {
    const { x, y, r, name } = items[i];
    if (!name) continue;
    const w = 5.6 * name.length;
    const spots = [
      { tx: x + r + 2, ty: y + 3, anchor: "start", b: { x0: x + r + 2, x1: x + r + 2 + w, y0: y - 5, y1: y + 5 } },
      { tx: x - r - 2, ty: y + 3, anchor: "end", b: { x0: x - r - 2 - w, x1: x - r - 2, y0: y - 5, y1: y + 5 } },
      { tx: x, ty: y - r - 3, anchor: "middle", b: { x0: x - w / 2, x1: x + w / 2, y0: y - r - 12, y1: y - r - 2 } },
      { tx: x, ty: y + r + 10, anchor: "middle", b: { x0: x - w / 2, x1: x + w / 2, y0: y + r + 1, y1: y + r + 11 } },
    ];
    const spot = spots.find((p) => !hitsCircle(p.b) && !hitsBox(p.b)) || spots[0];
    boxes.push(spot.b);
    text(g, spot.tx, spot.ty, name, { class: "site-label", "text-anchor": spot.anchor });
  }
}

/** Legend for utilization colours and circle sizes. */
export function drawLegend(node) {
  node.innerHTML = "";
  for (const u of [0, 0.25, 0.5, 0.75, 1]) {
    const span = document.createElement("span");
    span.innerHTML = `<span class="sw" style="background:${utilColour(u)}"></span>${u * 100}%`;
    node.appendChild(span);
  }
  const note = document.createElement("span");
  note.textContent = "circle area ∝ GPUs listed; dashed rings: round-trip time to the chosen city";
  node.appendChild(note);
}

/**
 * Placement map of one request: the demand regions and the sites it was placed on, with a
 * line from each region to each chosen site.
 */
export function drawPlacementMap(svg, regions, sites) {
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const project = drawBase(svg);
  const g = el("g", {}, svg);
  for (const r of regions) {
    for (const s of sites) {
      const [x1, y1] = project([r.lon, r.lat]);
      const [x2, y2] = project([s.lon, s.lat]);
      el("line", { x1, y1, x2, y2, class: "link" }, g);
    }
  }
  for (const r of regions) {
    const [x, y] = project([r.lon, r.lat]);
    el("circle", { cx: x, cy: y, r: 4, class: "city chosen" }, g);
    text(g, x + 6, y - 5, r.name, { class: "city-label" });
  }
  for (const s of sites) {
    const [x, y] = project([s.lon, s.lat]);
    const dot = el("circle", { cx: x, cy: y, r: 7, class: "site", fill: "#b4232a" }, g);
    attachTip(dot, `${s.name}: ${s.gpus} GPUs`);
    text(g, x + 9, y + 4, s.name, { class: "site-label" });
  }
}
