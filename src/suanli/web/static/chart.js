// Time-series line chart in SVG: several series sharing a time axis.

import { PALETTE, attachTip, el, fmt, text } from "./svg.js";

function niceStep(span, target) {
  const raw = span / Math.max(1, target);
  const mag = 10 ** Math.floor(Math.log10(raw || 1));
  for (const m of [1, 2, 2.5, 5, 10]) if (raw <= m * mag) return m * mag;
  return 10 * mag;
}

function timeLabel(ms, spanMs) {
  const iso = new Date(ms).toISOString();
  return spanMs > 3 * 86400e3 ? iso.slice(5, 10) : iso.slice(5, 16).replace("T", " ");
}

/**
 * Draw `series` = [{name, points: [{t: iso, v: number}]}] into `svg`.
 * Options: yLabel, yMin (default 0), yMax (optional fixed), percent (format as %).
 */
export function drawLineChart(svg, series, opts = {}) {
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const [, , W, H] = svg.getAttribute("viewBox").split(" ").map(Number);
  const m = { l: 48, r: 40, t: 12, b: 28 };
  const all = series.flatMap((s) => s.points.map((p) => ({ t: Date.parse(p.t), v: p.v })));
  const good = all.filter((p) => Number.isFinite(p.t) && Number.isFinite(p.v));
  const frame = el("g", { class: "axis" }, svg);
  if (!good.length) {
    el("rect", { x: m.l, y: m.t, width: W - m.l - m.r, height: H - m.t - m.b, fill: "#fafbfc", stroke: "#e3e6ea" }, frame);
    text(frame, W / 2, H / 2, opts.empty || "No data yet", { class: "nodata", "text-anchor": "middle" });
    return;
  }
  let t0 = Math.min(...good.map((p) => p.t));
  let t1 = Math.max(...good.map((p) => p.t));
  if (t1 === t0) { t0 -= 1800e3; t1 += 1800e3; }
  let y0 = opts.yMin ?? 0;
  let y1 = opts.yMax ?? Math.max(...good.map((p) => p.v)) * 1.1;
  if (opts.yMin === undefined) y0 = Math.min(0, ...good.map((p) => p.v));
  if (y1 <= y0) y1 = y0 + 1;
  const x = (t) => m.l + ((t - t0) / (t1 - t0)) * (W - m.l - m.r);
  const y = (v) => H - m.b - ((v - y0) / (y1 - y0)) * (H - m.t - m.b);
  const ystep = niceStep(y1 - y0, 5);
  for (let v = Math.ceil(y0 / ystep) * ystep; v <= y1 + 1e-9; v += ystep) {
    el("line", { x1: m.l, x2: W - m.r, y1: y(v), y2: y(v), class: "gridline" }, frame);
    const digits = Number.isInteger(ystep) ? 0 : ystep * 10 === Math.round(ystep * 10) ? 1 : 2;
    const label = opts.percent ? `${fmt(v * 100, 0)}%` : fmt(v, digits);
    text(frame, m.l - 6, y(v) + 3, label, { "text-anchor": "end" });
  }
  el("line", { x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b }, frame);
  const ticks = W > 700 ? 6 : 4;
  for (let i = 0; i <= ticks; i++) {
    const t = t0 + ((t1 - t0) * i) / ticks;
    const anchor = i === 0 ? "start" : i === ticks ? "end" : "middle";
    el("line", { x1: x(t), x2: x(t), y1: H - m.b, y2: H - m.b + 4 }, frame);
    text(frame, x(t), H - m.b + 16, timeLabel(t, t1 - t0), { "text-anchor": anchor });
  }
  if (opts.yLabel) {
    text(frame, 12, m.t + (H - m.t - m.b) / 2, opts.yLabel, {
      transform: `rotate(-90 12 ${m.t + (H - m.t - m.b) / 2})`, "text-anchor": "middle",
    });
  }
  series.forEach((s, i) => {
    const colour = s.colour || PALETTE[i % PALETTE.length];
    const pts = s.points
      .map((p) => [Date.parse(p.t), p.v, p])
      .filter(([t, v]) => Number.isFinite(t) && Number.isFinite(v));
    if (!pts.length) return;
    const g = el("g", { class: "series-group", "data-series": s.name }, svg);
    const d = pts.map(([t, v], j) => `${j ? "L" : "M"}${x(t).toFixed(1)},${y(v).toFixed(1)}`).join("");
    if (opts.area && series.length === 1) {
      const base = y(Math.max(y0, 0));
      el("path", {
        class: "area", fill: colour,
        d: `${d}L${x(pts[pts.length - 1][0]).toFixed(1)},${base}L${x(pts[0][0]).toFixed(1)},${base}Z`,
      }, g);
    }
    el("path", { class: "series", stroke: colour, d }, g);
    if (pts.length <= 120) {
      for (const [t, v, p] of pts) {
        const dot = el("circle", { cx: x(t), cy: y(v), r: 2.6, class: "point", fill: colour }, g);
        const value = opts.percent ? `${fmt(v * 100, 1)}%` : fmt(v, 2);
        const extra = p.note ? `\n${p.note}` : "";
        attachTip(dot, `${s.name}\n${timeLabel(t, 0)} UTC\n${value}${extra}`);
      }
    }
  });
}
