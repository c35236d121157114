// Time-series charts in SVG: a line chart of several series and the price chart (index line,
// traded GPU-hours as bars under it, the reference price). Times on the axis are
// Asia/Shanghai with the date (the first label carries the year); every label is kept
// inside the chart's box.

import { fmt, fmtTime, shanghaiParts, t } from "./i18n.js";
import { attachTip, el, fitViewBox, text, textWidth } from "./svg.js";

export function niceStep(span, target) {
  const raw = span / Math.max(1, target);
  const mag = 10 ** Math.floor(Math.log10(raw || 1));
  for (const m of [1, 2, 2.5, 5, 10]) if (raw <= m * mag) return m * mag;
  return 10 * mag;
}

/** A y domain snapped to round steps that contains every value (with a little room). */
export function fitDomain(values, { zero = false, pad = 0.08, ticks = 5 } = {}) {
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (zero) lo = Math.min(0, lo);
  if (hi === lo) { hi += Math.abs(hi) * 0.1 || 1; lo -= zero ? 0 : Math.abs(lo) * 0.1 || 1; }
  const span = hi - lo;
  if (!zero) lo -= span * pad;
  hi += span * pad;
  if (zero && Math.min(...values) >= 0) lo = Math.max(0, lo);
  const step = niceStep(hi - lo, ticks);
  return { lo: Math.floor(lo / step) * step, hi: Math.ceil(hi / step) * step, step };
}

/** A tick label: the date (with the year on the first), and the time of day when ticks are
 * less than a day apart. */
function timeLabel(ms, stepMs, first) {
  const p = shanghaiParts(ms);
  const day = first ? `${p.y}-${p.mo}-${p.d}` : `${p.mo}-${p.d}`;
  return stepMs >= 86400e3 ? day : `${day} ${p.h}:${p.mi}`;
}

function frame(svg, aspect, minHeight, maxHeight = 420) {
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const [W, H] = fitViewBox(svg, aspect, minHeight, maxHeight);
  return { W, H };
}

function yAxis(g, dom, m, W, y, format) {
  for (let v = dom.lo; v <= dom.hi + dom.step * 1e-6; v += dom.step) {
    el("line", { x1: m.l, x2: W - m.r, y1: y(v), y2: y(v), class: "gridline" }, g);
    text(g, m.l - 5, y(v) + 4, format(v), { "text-anchor": "end" });
  }
}

function xAxis(g, t0, t1, m, W, H, x) {
  const plot = W - m.l - m.r;
  const ticks = Math.max(1, Math.min(6, Math.floor(plot / 125)));
  el("line", { x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b }, g);
  for (let i = 0; i <= ticks; i++) {
    const tm = t0 + ((t1 - t0) * i) / ticks;
    const anchor = i === 0 ? "start" : i === ticks ? "end" : "middle";
    el("line", { x1: x(tm), x2: x(tm), y1: H - m.b, y2: H - m.b + 4 }, g);
    text(g, x(tm), H - m.b + 16, timeLabel(tm, (t1 - t0) / ticks, i === 0), { "text-anchor": anchor });
  }
}

function leftMargin(labels) {
  return Math.ceil(Math.max(...labels.map((s) => textWidth(s, 11)))) + 12;
}

function noData(svg, W, H, message) {
  const g = el("g", { class: "axis" }, svg);
  el("rect", { x: 1, y: 1, width: W - 2, height: H - 2, class: "frame" }, g);
  text(g, W / 2, H / 2, message, { class: "nodata", "text-anchor": "middle" });
}

/**
 * Draw `series` = [{name, colour, points: [{t: iso, v: number}]}] into `svg`.
 * Options: yMin/yMax (fixed), percent (format as %), empty (message), aspect.
 */
export function drawLineChart(svg, series, opts = {}) {
  const { W, H } = frame(svg, opts.aspect || (svg.parentNode.clientWidth < 600 ? 0.62 : 0.38), 200);
  const all = series.flatMap((s) => s.points.map((p) => ({ t: Date.parse(p.t), v: p.v })));
  const good = all.filter((p) => Number.isFinite(p.t) && Number.isFinite(p.v));
  if (!good.length) return noData(svg, W, H, opts.empty || "–");
  let t0 = Math.min(...good.map((p) => p.t));
  let t1 = Math.max(...good.map((p) => p.t));
  if (t1 === t0) { t0 -= 1800e3; t1 += 1800e3; }
  const dom = opts.yMax !== undefined
    ? { lo: opts.yMin ?? 0, hi: opts.yMax, step: niceStep(opts.yMax - (opts.yMin ?? 0), 5) }
    : fitDomain(good.map((p) => p.v), { zero: true });
  const format = (v) => (opts.percent ? `${fmt(v * 100, 0)}%` : fmt(v, dom.step < 1 ? 1 : 0));
  const ticks = [];
  for (let v = dom.lo; v <= dom.hi + 1e-9; v += dom.step) ticks.push(format(v));
  const m = { l: leftMargin(ticks), r: 30, t: 10, b: 26 };
  const x = (tm) => m.l + ((tm - t0) / (t1 - t0)) * (W - m.l - m.r);
  const y = (v) => H - m.b - ((v - dom.lo) / (dom.hi - dom.lo)) * (H - m.t - m.b);
  const g = el("g", { class: "axis" }, svg);
  yAxis(g, dom, m, W, y, format);
  xAxis(g, t0, t1, m, W, H, x);
  series.forEach((s) => {
    const pts = s.points.map((p) => [Date.parse(p.t), p.v]).filter(([tm, v]) => Number.isFinite(tm) && Number.isFinite(v));
    if (!pts.length) return;
    const sg = el("g", { class: "series-group", "data-series": s.name }, svg);
    const d = pts.map(([tm, v], j) => `${j ? "L" : "M"}${x(tm).toFixed(1)},${y(v).toFixed(1)}`).join("");
    el("path", { class: "series", stroke: s.colour, d }, sg);
    if (pts.length <= 120) {
      for (const [tm, v] of pts) {
        const dot = el("circle", { cx: x(tm), cy: y(v), r: 2.4, class: "point", fill: s.colour }, sg);
        attachTip(dot, `${s.name}\n${fmtTime(tm)}\n${opts.percent ? `${fmt(v * 100, 1)}%` : fmt(v, 2)}`);
      }
    }
  });
}

/**
 * The price chart: `points` = [{t, v, gpu_hours, fills, stale}] as a line (stale periods as
 * hollow points), GPU-hours traded as bars along the bottom, and `reference` =
 * {cny_per_gpu_hour, date, source} as a dashed line labelled with unit, date and source.
 */
export function drawPriceChart(svg, points, reference, opts = {}) {
  const narrow = svg.parentNode.clientWidth < 600;
  const { W, H } = frame(svg, narrow ? 0.72 : 0.5, 220);
  const pts = points.map((p) => ({ ...p, ms: Date.parse(p.t) })).filter((p) => Number.isFinite(p.ms) && Number.isFinite(p.v));
  if (!pts.length) return noData(svg, W, H, opts.empty || "–");
  let t0 = Math.min(...pts.map((p) => p.ms));
  let t1 = Math.max(...pts.map((p) => p.ms));
  const halfStep = pts.length > 1 ? (t1 - t0) / (pts.length - 1) / 2 : 1800e3;
  t0 -= halfStep;
  t1 += halfStep;
  const values = pts.map((p) => p.v);
  const ref = reference && Number.isFinite(reference.cny_per_gpu_hour) ? reference.cny_per_gpu_hour : null;
  const span = Math.max(...values) - Math.min(...values) || Math.max(...values) * 0.2;
  const refShown = ref !== null && ref >= Math.min(...values) - 1.5 * span && ref <= Math.max(...values) + 1.5 * span;
  const dom = fitDomain(refShown ? [...values, ref] : values);
  const format = (v) => `¥${fmt(v, dom.step < 0.1 ? 2 : dom.step < 1 ? 1 : 0)}`;
  const labels = [];
  for (let v = dom.lo; v <= dom.hi + 1e-9; v += dom.step) labels.push(format(v));
  const m = { l: leftMargin(labels), r: 12, t: 10, b: 26 };
  const plotH = H - m.t - m.b;
  const barH = plotH * 0.22;
  const lineB = H - m.b - barH - 6;
  const x = (tm) => m.l + ((tm - t0) / (t1 - t0)) * (W - m.l - m.r);
  const y = (v) => lineB - ((v - dom.lo) / (dom.hi - dom.lo)) * (lineB - m.t);
  const g = el("g", { class: "axis" }, svg);
  yAxis(g, dom, m, W, y, format);
  xAxis(g, t0, t1, m, W, H, x);
  // traded GPU-hours as bars along the bottom, on their own scale
  const maxH = Math.max(...pts.map((p) => p.gpu_hours || 0));
  const bars = el("g", { class: "bars" }, svg);
  const bw = Math.max(1, ((W - m.l - m.r) / Math.max(pts.length, 1)) * 0.7);
  if (maxH > 0) {
    for (const p of pts) {
      const h = ((p.gpu_hours || 0) / maxH) * barH;
      if (h <= 0) continue;
      const bar = el("rect", { class: "bar", x: x(p.ms) - bw / 2, y: H - m.b - h, width: bw, height: h }, bars);
      attachTip(bar, `${fmtTime(p.ms)}\n${t("index.volume")}: ${fmt(p.gpu_hours, 0)}`);
    }
    const caption = `${t("index.volume")} (max ${fmt(maxH, 0)})`;
    text(g, W - m.r - 2, H - m.b - barH - 2, caption, { "text-anchor": "end", class: "chart-text" });
  }
  if (refShown) {
    const ry = y(ref);
    el("line", { x1: m.l, x2: W - m.r, y1: ry, y2: ry, class: "refline" }, svg);
    let label = t("index.ref.label", { price: `¥${fmt(ref, 2)}`, date: reference.date, source: reference.source_short || reference.source });
    const room = W - m.l - m.r - 8;
    if (textWidth(label, 11) > room) label = t("index.ref.label", { price: `¥${fmt(ref, 2)}`, date: reference.date, source: "…" }).replace(/[（(][^）)]*…[）)]/, "").trim();
    if (textWidth(label, 11) > room) label = `${t("index.reference")} ¥${fmt(ref, 2)}`;
    const above = ry - m.t > 16;
    text(svg, m.l + 4, above ? ry - 4 : ry + 13, label, { class: "reflabel" });
  }
  const line = el("g", { class: "series-group", "data-series": opts.name || "" }, svg);
  const d = pts.map((p, j) => `${j ? "L" : "M"}${x(p.ms).toFixed(1)},${y(p.v).toFixed(1)}`).join("");
  el("path", { class: "series", stroke: "var(--accent2)", d }, line);
  if (pts.length <= 200) {
    for (const p of pts) {
      const dot = el("circle", { cx: x(p.ms), cy: y(p.v), r: 2.6, class: `point${p.stale ? " stale" : ""}`, fill: "var(--accent2)", stroke: "var(--accent2)" }, line);
      const note = p.stale ? t("index.note.stale") : t("index.note.fills", { h: fmt(p.gpu_hours, 0), n: p.fills });
      attachTip(dot, `${fmtTime(p.ms)}\n¥${fmt(p.v, 2)} / GPU-h\n${note}`);
    }
  }
}
