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

/**
 * Size an SVG's viewBox to its rendered width, so one SVG unit is one CSS pixel and text
 * drawn at 11 units is 11 px on a phone as on a laptop. Returns [width, height].
 */
export function fitViewBox(svg, aspect, minHeight = 0, maxHeight = Infinity) {
  const width = Math.max(240, Math.round(svg.parentNode.clientWidth || svg.clientWidth || 640));
  const height = Math.min(maxHeight, Math.max(minHeight, Math.round(width * aspect)));
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  return [width, height];
}

/** Tooltip that follows the pointer (or the focus); `content` is plain text (newlines kept). */
export function attachTip(node, content) {
  const tip = document.getElementById("tip");
  const show = (x, y) => {
    tip.textContent = typeof content === "function" ? content() : content;
    tip.hidden = false;
    const w = tip.offsetWidth;
    tip.style.left = `${Math.max(4, Math.min(x + 14, window.innerWidth - w - 4))}px`;
    tip.style.top = `${y + 10}px`;
  };
  node.addEventListener("mousemove", (ev) => show(ev.clientX, ev.clientY));
  node.addEventListener("focus", () => {
    const r = node.getBoundingClientRect();
    show(r.right, r.bottom);
  });
  const hide = () => { tip.hidden = true; };
  node.addEventListener("mouseleave", hide);
  node.addEventListener("blur", hide);
}

/** Text width estimate in px for `s` at `size` px (CJK glyphs are about one em wide). */
export function textWidth(s, size = 11) {
  let w = 0;
  for (const ch of String(s)) w += /[\u2e80-\u9fff\uff00-\uffef]/.test(ch) ? size : size * 0.58;
  return w;
}
