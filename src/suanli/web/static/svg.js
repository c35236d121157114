// Small helpers for building SVG by hand.

const NS = "http://www.w3.org/2000/svg";

/** Create an SVG element with attributes, optionally appended to `parent`. */
export function el(name, attrs = {}, parent = null) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  }
  if (parent) parent.appendChild(node);
  return node;
}

export function text(parent, x, y, content, attrs = {}) {
  const node = el("text", { x, y, ...attrs }, parent);
  node.textContent = content;
  return node;
}

export function clear(svg) {
  while (svg.firstChild) svg.removeChild(svg.firstChild);
}

/** Tooltip that follows the pointer; `content` is plain text (newlines kept). */
export function attachTip(node, content) {
  const tip = document.getElementById("tip");
  node.addEventListener("mousemove", (ev) => {
    tip.textContent = typeof content === "function" ? content() : content;
    tip.hidden = false;
    tip.style.left = `${ev.clientX + 14}px`;
    tip.style.top = `${ev.clientY + 10}px`;
  });
  node.addEventListener("mouseleave", () => {
    tip.hidden = true;
  });
}

/** Utilization 0..1 to a colour: idle blue-grey through amber to busy red. */
export function utilColour(u) {
  const stops = [
    [0.0, [120, 144, 176]],
    [0.35, [86, 166, 120]],
    [0.65, [232, 176, 48]],
    [1.0, [196, 40, 40]],
  ];
  const x = Math.max(0, Math.min(1, Number.isFinite(u) ? u : 0));
  for (let i = 1; i < stops.length; i++) {
    const [x1, c1] = stops[i];
    const [x0, c0] = stops[i - 1];
    if (x <= x1) {
      const t = (x - x0) / (x1 - x0);
      const c = c0.map((v, j) => Math.round(v + t * (c1[j] - v)));
      return `rgb(${c[0]},${c[1]},${c[2]})`;
    }
  }
  return "rgb(196,40,40)";
}

export const PALETTE = [
  "#1f5fa8", "#b4232a", "#1a7f37", "#9a6700", "#8250df", "#0a7e8c",
  "#d4591f", "#57606a", "#bf3989", "#4d7c0f", "#6e40c9", "#a0522d",
];

export function fmt(n, digits = 2) {
  if (n === null || n === undefined || !Number.isFinite(Number(n))) return "–";
  return Number(n).toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

export function fmtTime(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toISOString().replace("T", " ").slice(0, 16);
}
