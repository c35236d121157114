// Map of China in SVG: Natural Earth outline (package data, served with the shared style),
// a South China Sea inset, sites coloured by utilization class, nearby sites grouped into
// one numbered circle when they would overlap at this size (select it to zoom in), and
// labels placed where they cover no circle and no other label.

import { cityName, fmt, hubName, siteName, t } from "./i18n.js";
import { hubColour, projection, style, utilColour, utilLegend } from "./style.js";
import { attachTip, el, fitViewBox, text, textWidth } from "./svg.js";

const ASPECT = 0.7;

function pathOf(rings, project, close = true) {
  return rings.map((ring) => ring.map((p, i) => {
    const [x, y] = project(p);
    return `${i ? "L" : "M"}${x.toFixed(1)},${y.toFixed(1)}`;
  }).join("") + (close ? "Z" : "")).join("");
}

function drawLand(g, project, { china = true } = {}) {
  const o = style().outline;
  el("path", { class: "other-land", d: pathOf(o.neighbours, project) }, g);
  if (china) {
    el("path", { class: "land", d: pathOf(o.china, project) }, g);
    el("path", { class: "island", d: pathOf(o.islands, project) }, g);
  }
}

/** Draw sea, graticule, land and (at full extent) the South China Sea inset. */
export function drawBase(svg, bounds = null) {
  const [W, H] = fitViewBox(svg, ASPECT);
  const full = !bounds;
  const b = bounds || style().projection.bounds;
  const project = projection(W, H, b);
  const clipId = `${svg.id}-clip`;
  const defs = el("defs", {}, svg);
  const clip = el("clipPath", { id: clipId }, defs);
  el("rect", { x: 0, y: 0, width: W, height: H }, clip);
  const g = el("g", { class: "base", "clip-path": `url(#${clipId})`, "aria-hidden": "true" }, svg);
  el("rect", { class: "sea", x: 0, y: 0, width: W, height: H }, g);
  for (let lon = 70; lon <= 140; lon += 10) {
    el("path", { class: "graticule", d: pathOf([[[lon, 0], [lon, 60]]], project, false) }, g);
  }
  for (let lat = 10; lat <= 60; lat += 10) {
    el("path", { class: "graticule", d: pathOf([[[60, lat], [140, lat]]], project, false) }, g);
  }
  drawLand(g, project);
  let inset = null;
  if (full) {
    const ib = style().projection.inset_bounds;
    const iw = Math.max(72, Math.round(W * 0.16));
    const ih = Math.round(iw * (ib.lat_max - ib.lat_min) / ((ib.lon_max - ib.lon_min) * style().projection.cos_ref));
    const x0 = W - iw - 6;
    const y0 = H - ih - 6;
    inset = { x0, y0: y0 - 16, x1: x0 + iw, y1: y0 + ih };
    const ig = el("g", { class: "inset", transform: `translate(${x0} ${y0})`, "aria-hidden": "true" }, svg);
    const insetClip = el("clipPath", { id: `${clipId}-inset` }, defs);
    el("rect", { x: 0, y: 0, width: iw, height: ih }, insetClip);
    el("rect", { class: "inset-frame", x: 0, y: 0, width: iw, height: ih }, ig);
    const inner = el("g", { "clip-path": `url(#${clipId}-inset)` }, ig);
    drawLand(inner, projection(iw, ih, ib, 2));
    el("rect", { x: 0, y: 0, width: iw, height: ih, fill: "none", class: "inset-frame", "fill-opacity": 0 }, ig);
    // the title sits above the frame, right-aligned with it, so it is never cut
    text(ig, iw, -4, t("map.inset"), { class: "inset-title", "text-anchor": "end" });
  }
  return { project, W, H, inset };
}

function radius(gpus, maxGpus, W) {
  const rmax = Math.max(10, Math.min(20, W / 40));
  if (!maxGpus || !gpus) return 4;
  return 4 + rmax * Math.sqrt(gpus / maxGpus);
}

/** Group sites whose circles would overlap at this size: biggest first, greedy. */
export function clusterSites(sites, project, W, maxGpus) {
  const clusters = [];
  const ordered = [...sites].sort((a, b) => (b.gpus_listed || 0) - (a.gpus_listed || 0) || a.id.localeCompare(b.id));
  for (const s of ordered) {
    const [x, y] = project([s.lon, s.lat]);
    const r = radius(s.gpus_listed, maxGpus, W);
    const near = clusters.find((c) => Math.hypot(c.x - x, c.y - y) < (c.r + r) * 0.8);
    if (near) {
      near.members.push(s);
      near.listed += s.gpus_listed || 0;
      near.leased += s.gpus_leased || 0;
      near.r = radius(near.listed, maxGpus, W) + 2;
    } else {
      clusters.push({ x, y, r, members: [s], listed: s.gpus_listed || 0, leased: s.gpus_leased || 0 });
    }
  }
  return clusters;
}

function activate(node, action) {
  node.addEventListener("click", action);
  node.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" || ev.key === " ") {
      ev.preventDefault();
      action();
    }
  });
}

function boundsAround(members) {
  const lats = members.map((s) => s.lat);
  const lons = members.map((s) => s.lon);
  const cLat = (Math.min(...lats) + Math.max(...lats)) / 2;
  const cLon = (Math.min(...lons) + Math.max(...lons)) / 2;
  const half = Math.max(1.2, (Math.max(...lats) - Math.min(...lats)) * 0.9, (Math.max(...lons) - Math.min(...lons)) * 0.6);
  return { lat_min: cLat - half, lat_max: cLat + half, lon_min: cLon - half * 1.45, lon_max: cLon + half * 1.45 };
}

/**
 * Draw sites, demand cities and latency rings around the chosen city. `data` is the
 * document of /web/api/map. `zoom` (bounds or null) narrows the view; `onZoom(bounds)` is
 * called when a group of sites is selected, `onSiteClick(site)` for one site.
 */
export function drawMarketMap(svg, data, { onSiteClick, zoom = null, onZoom } = {}) {
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const { project, W, H, inset } = drawBase(svg, zoom);
  const obstacles = inset ? [inset] : [];
  const rings = el("g", { class: "rings", "aria-hidden": "true" }, svg);
  const labels = [];
  for (const ring of data.rings || []) {
    el("path", { class: "ring", d: pathOf([ring.points], project) }, rings);
  }
  const cities = el("g", { class: "cities" }, svg);
  const circles = [];
  for (const c of data.cities || []) {
    const [x, y] = project([c.lon, c.lat]);
    const chosen = data.city && c.id === data.city.id;
    const dot = el("circle", { cx: x, cy: y, r: chosen ? 4 : 2.5, class: `city${chosen ? " chosen" : ""}` }, cities);
    attachTip(dot, t("map.city", { name: cityName(c.id, c.name) }));
    circles.push({ x, y, r: chosen ? 4 : 2.5 });
    labels.push({ x, y, r: chosen ? 4 : 2.5, name: cityName(c.id, c.name), cls: "city-label", priority: chosen ? 2 : 0 });
  }
  const sites = (data.sites || []).filter((s) => {
    const [x, y] = project([s.lon, s.lat]);
    return x >= -20 && x <= W + 20 && y >= -20 && y <= H + 20;
  });
  const maxGpus = Math.max(1, ...(data.sites || []).map((s) => s.gpus_listed || 0));
  const groups = clusterSites(sites, project, W, maxGpus);
  const g = el("g", { class: "sites" }, svg);
  for (const c of groups) {
    const util = c.listed ? c.leased / c.listed : 0;
    circles.push(c);
    if (c.members.length === 1) {
      const s = c.members[0];
      const name = siteName(s.id, s.name);
      const tip = [
        t("map.site.tip", {
          name, hub: hubName(s.region, s.region), listed: fmt(s.gpus_listed, 0), leased: fmt(s.gpus_leased, 0),
          util: `${fmt(100 * (s.utilization || 0), 1)}%`,
        }),
        data.city ? t("map.rtt", { city: cityName(data.city.id, data.city.name), ms: fmt(s.rtt_ms, 1) }) : "",
      ].filter(Boolean).join("\n");
      const dot = el("circle", {
        cx: c.x, cy: c.y, r: c.r, class: "site", fill: utilColour(s.utilization), "data-site": s.id,
        tabindex: 0, role: "button", "aria-label": tip.replace(/\n/g, "; "),
      }, g);
      attachTip(dot, tip);
      if (onSiteClick) activate(dot, () => onSiteClick(s));
      labels.push({ x: c.x, y: c.y, r: c.r, name, cls: "site-label", priority: 3 });
    } else {
      const names = c.members.map((s) => siteName(s.id, s.name));
      const label = t("map.cluster", { n: c.members.length, names: names.join("、") });
      const dot = el("circle", {
        cx: c.x, cy: c.y, r: c.r, class: "site cluster", fill: utilColour(util),
        "data-cluster": c.members.map((s) => s.id).join(" "), tabindex: 0, role: "button",
        "aria-label": `${label}; ${fmt(100 * util, 1)}%`,
      }, g);
      attachTip(dot, `${label}\n${fmt(c.leased, 0)} / ${fmt(c.listed, 0)} GPUs · ${fmt(100 * util, 1)}%`);
      text(g, c.x, c.y + 4, String(c.members.length), { class: "cluster-count", "text-anchor": "middle", "aria-hidden": "true" });
      if (onZoom) activate(dot, () => onZoom(boundsAround(c.members)));
      labels.push({ x: c.x, y: c.y, r: c.r, name: `${names[0]} +${names.length - 1}`, cls: "site-label", priority: 3 });
    }
  }
  for (const ring of data.rings || []) {
    const top = ring.points.reduce((a, b) => (b[1] > a[1] ? b : a));
    const [x, y] = project(top);
    labels.push({ x, y: y + 2, r: 0, name: `${ring.rtt_ms} ms`, cls: "ring-label", priority: 1, below: true });
  }
  placeLabels(svg, labels, circles, obstacles, W, H);
}

/**
 * Greedy label placement, most important first: each label takes the first of eight spots
 * around its point that stays inside the map and covers no circle, no obstacle and no label
 * already placed; a label with no free spot is left out (its circle keeps its name for
 * screen readers and in the tooltip).
 */
export function placeLabels(svg, items, circles, obstacles, W, H) {
  const g = el("g", { class: "labels", "aria-hidden": "true" }, svg);
  const boxes = [...obstacles];
  // every circle counts, a label's own too (its spots already clear it): a city dot and a
  // site at the same place both stay uncovered
  const hitsCircle = (b) => circles.some((c) => {
    const nx = Math.max(b.x0, Math.min(c.x, b.x1));
    const ny = Math.max(b.y0, Math.min(c.y, b.y1));
    return (nx - c.x) ** 2 + (ny - c.y) ** 2 < (c.r + 1) ** 2;
  });
  const hitsBox = (b) => boxes.some((o) => b.x0 < o.x1 && b.x1 > o.x0 && b.y0 < o.y1 && b.y1 > o.y0);
  const inside = (b) => b.x0 >= 2 && b.x1 <= W - 2 && b.y0 >= 2 && b.y1 <= H - 2;
  const order = items.map((_, i) => i).sort((a, b) => items[b].priority - items[a].priority || items[b].r - items[a].r);
  for (const i of order) {
    const { x, y, r, name, cls } = items[i];
    if (!name) continue;
    const size = cls === "site-label" ? 12 : 11;
    const w = textWidth(name, size) + 2;
    const cjk = /[\u2e80-\u9fff]/.test(name);
    const up = size * (cjk ? 1.1 : 0.95); // glyph box above and below the baseline
    const down = size * (cjk ? 0.35 : 0.3);
    const d = r + 3;
    const spots = [
      [x + d, y + size / 2 - 1, "start"], [x - d, y + size / 2 - 1, "end"],
      [x, y - d - 2, "middle"], [x, y + d + size, "middle"],
      [x + d * 0.75, y - d * 0.75, "start"], [x - d * 0.75, y - d * 0.75, "end"],
      [x + d * 0.75, y + d * 0.75 + size - 2, "start"], [x - d * 0.75, y + d * 0.75 + size - 2, "end"],
    ].map(([tx, ty, anchor]) => {
      const x0 = anchor === "start" ? tx : anchor === "end" ? tx - w : tx - w / 2;
      return { tx, ty, anchor, b: { x0, x1: x0 + w, y0: ty - up, y1: ty + down } };
    });
    const spot = spots.find((p) => inside(p.b) && !hitsBox(p.b) && !hitsCircle(p.b));
    if (!spot) continue;
    boxes.push(spot.b);
    text(g, spot.tx, spot.ty, name, { class: cls, "text-anchor": spot.anchor });
  }
}

/** Legend: the utilization classes, what circles and rings mean, and the outline's source. */
export function drawLegend(node) {
  node.innerHTML = "";
  const head = document.createElement("span");
  head.textContent = `${t("map.legend.util")}:`;
  node.appendChild(head);
  for (const [label, colour] of utilLegend()) {
    const span = document.createElement("span");
    span.className = "util-class";
    const sw = document.createElement("span");
    sw.className = "sw";
    sw.style.background = colour;
    span.append(sw, label);
    node.appendChild(span);
  }
  const note = document.createElement("span");
  note.className = "note";
  note.textContent = `${t("map.legend.note")}. ${t("map.source")}.`;
  node.appendChild(note);
}

/**
 * Placement map of one request: the demand regions and the sites it was placed on, with a
 * line from each region to each chosen site.
 */
export function drawPlacementMap(svg, regions, sites) {
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const { project, W, H, inset } = drawBase(svg);
  const g = el("g", {}, svg);
  const labels = [];
  const circles = [];
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
    circles.push({ x, y, r: 4 });
    labels.push({ x, y, r: 4, name: cityName(r.id || r.region, r.name), cls: "city-label", priority: 1 });
  }
  for (const s of sites) {
    const [x, y] = project([s.lon, s.lat]);
    const dot = el("circle", { cx: x, cy: y, r: 7, class: "site", fill: hubColour("", 1) }, g);
    attachTip(dot, `${siteName(s.id, s.name)}: ${s.gpus} GPUs`);
    circles.push({ x, y, r: 7 });
    labels.push({ x, y, r: 7, name: siteName(s.id, s.name), cls: "site-label", priority: 2 });
  }
  placeLabels(svg, labels, circles, inset ? [inset] : [], W, H);
}
