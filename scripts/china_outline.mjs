// Builds src/suanli/catalog/data/china_outline.json from Natural Earth 1:10m Admin 0
// countries (public domain) as redistributed by the npm package world-atlas@2.0.2 (ISC).
// Run once by hand, never at run time:
//   npm install world-atlas@2.0.2 topojson-client@3.1.0 && node scripts/china_outline.mjs OUT
// China is drawn as one shape: mainland, Hainan, Hong Kong, Macao and Taiwan merged, plus
// the islands of the South China Sea that Natural Earth carries (Spratly Is., Scarborough
// Reef, the Paracels inside China's multipolygon). Neighbouring land comes from the same
// file and is kept only inside the map's box, for context.
import fs from "fs";
import * as topo from "topojson-client";

const out = process.argv[2];
const t = JSON.parse(fs.readFileSync("node_modules/world-atlas/countries-10m.json"));
const CHINA = new Set(["China", "Hong Kong", "Macao", "Taiwan"]);
const ISLANDS = new Set(["Spratly Is.", "Scarborough Reef"]);
const geoms = t.objects.countries.geometries;
const china = topo.merge(t, geoms.filter((g) => CHINA.has(g.properties.name)));
const islands = topo.merge(t, geoms.filter((g) => ISLANDS.has(g.properties.name)));
const others = topo.merge(t, geoms.filter((g) => !CHINA.has(g.properties.name) && !ISLANDS.has(g.properties.name)));
const BOX = { lon0: 66, lon1: 140, lat0: 0, lat1: 56 };

function perpDist(p, a, b) {
  const [x, y] = p; const [x1, y1] = a; const [x2, y2] = b;
  const dx = x2 - x1; const dy = y2 - y1;
  const len = dx * dx + dy * dy;
  const u = len ? Math.max(0, Math.min(1, ((x - x1) * dx + (y - y1) * dy) / len)) : 0;
  return Math.hypot(x - (x1 + u * dx), y - (y1 + u * dy));
}
function simplify(points, tol) {
  if (points.length < 4) return points;
  const keep = new Uint8Array(points.length); keep[0] = keep[points.length - 1] = 1;
  const stack = [[0, points.length - 1]];
  while (stack.length) {
    const [i, j] = stack.pop(); let best = -1; let dmax = 0;
    for (let k = i + 1; k < j; k++) { const d = perpDist(points[k], points[i], points[j]); if (d > dmax) { dmax = d; best = k; } }
    if (dmax > tol) { keep[best] = 1; stack.push([i, best], [best, j]); }
  }
  return points.filter((_, k) => keep[k]);
}
function area(r) { let a = 0; for (let i = 0; i < r.length; i++) { const [x1, y1] = r[i]; const [x2, y2] = r[(i + 1) % r.length]; a += x1 * y2 - x2 * y1; } return Math.abs(a / 2); }
const inBox = (r) => r.some(([x, y]) => x >= BOX.lon0 && x <= BOX.lon1 && y >= BOX.lat0 && y <= BOX.lat1);
const clamp = ([x, y]) => [Math.max(BOX.lon0, Math.min(BOX.lon1, x)), Math.max(BOX.lat0, Math.min(BOX.lat1, y))];
function rings(geom, tol, minArea, keepSmall = () => false, clip = false) {
  const res = [];
  for (const poly of geom.coordinates) {
    const outer = clip ? poly[0].map(clamp) : poly[0];
    if (!inBox(outer)) continue;
    const small = area(outer) < minArea;
    if (small && !keepSmall(outer)) continue;
    const round = ([x, y]) => [Math.round(x * 100) / 100, Math.round(y * 100) / 100];
    const s = simplify(outer, small ? tol / 4 : tol).map(round);
    res.push(s.length >= 4 ? s : outer.map(round)); // an islet keeps every point
  }
  return res;
}
const southSea = (r) => r.every(([x, y]) => x > 108 && x < 121 && y > 3 && y < 21);
const doc = {
  source: "Natural Earth 1:10m Admin 0 countries v4.1.0 (public domain, naturalearthdata.com), as redistributed in the npm package world-atlas 2.0.2 (ISC); China, Hong Kong, Macao and Taiwan merged; simplified (Douglas-Peucker) and rounded to 0.01 degree by scripts/china_outline.mjs",
  china: rings(china, 0.04, 0.05, southSea),
  islands: rings(islands, 0.02, 0, () => true),
  neighbours: rings(others, 0.08, 0.3, () => false, true),  // clamped to the box: context only
};
fs.writeFileSync(out, JSON.stringify(doc));
console.log(out, fs.statSync(out).size, doc.china.length, doc.islands.length, doc.neighbours.length);
