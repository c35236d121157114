// Suanli dashboard: views, tables and live polling. Plain ES modules, no build step.
// Every list is paginated and every aggregate computed by the server; the browser only
// ever holds one page of rows. The market view's filters, sort, page and selected site
// live in the URL (#/market?site=zhongwei&gpu=H100-SXM...), so a link shows the same view.

import { whyText } from "./actions.js";
import { ApiError, apiKey, getJson, setApiKey } from "./api.js";
import { drawLineChart, drawPriceChart } from "./chart.js";
import {
  LANG, applyI18n, cityName, fmt, fmtDuration, fmtInt, fmtMoney, fmtTime, hubName, setLang, setNames,
  siteName, t,
} from "./i18n.js";
import { drawLegend, drawMarketMap, drawPlacementMap } from "./map.js";
import { hubColour, loadStyle, style } from "./style.js";

const WEB = "/web/api";
const POLL_MS = 2000;
const FILTER_KEYS = ["site", "gpu", "hub", "min_available", "max_price", "mine"];

const state = {
  meta: null,
  who: null,
  city: sessionStorage.getItem("suanli.city") || "",
  zoom: null,
  offers: { page: 1, pageSize: 25, sort: "price", order: "asc", filter: {} },
  fills: { page: 1, pageSize: 15, seen: new Set() },
  requests: { page: 1, pageSize: 20 },
  myOffers: { page: 1, pageSize: 20 },
  latestFillId: null,
  view: "market",
  book: null,
  last: {},
};

const $ = (id) => document.getElementById(id);

function toast(message, isError = false) {
  const node = $("toast");
  node.textContent = message;
  node.className = `toast${isError ? " error" : ""}`;
  node.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { node.hidden = true; }, 4000);
}

function explain(err) {
  if (err instanceof ApiError) {
    const hint = err.body && err.body.hint ? ` ${err.body.hint}` : "";
    return `${err.message}${hint}`;
  }
  return String(err && err.message ? err.message : err);
}

function cell(tr, value, cls) {
  const td = document.createElement("td");
  if (value instanceof Node) td.appendChild(value);
  else td.textContent = value === null || value === undefined ? "–" : String(value);
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}

function link(href, label, aria) {
  const a = document.createElement("a");
  a.href = href;
  a.textContent = label;
  if (aria) a.setAttribute("aria-label", aria);
  return a;
}

function emptyRow(tbody, columns, message) {
  const tr = document.createElement("tr");
  const td = cell(tr, message, "empty");
  td.colSpan = columns;
  tbody.appendChild(tr);
}

function pager(node, { page, pageSize, total }, go) {
  node.innerHTML = "";
  const pages = Math.max(1, Math.ceil(total / pageSize));
  const info = document.createElement("span");
  info.textContent = t("pager", { p: fmtInt(page), n: fmtInt(pages), rows: fmtInt(total) });
  const prev = document.createElement("button");
  prev.textContent = t("prev");
  prev.disabled = page <= 1;
  prev.addEventListener("click", () => go(page - 1));
  const next = document.createElement("button");
  next.textContent = t("next");
  next.disabled = page >= pages;
  next.addEventListener("click", () => go(page + 1));
  node.append(prev, info, next);
}

const pricingLabel = (p) => t(`pricing.${p}`);

// ---------- URL state ----------

function parseHash() {
  const hash = window.location.hash || "#/market";
  const [path, query = ""] = hash.slice(2).split("?");
  return { parts: path.split("/"), params: new URLSearchParams(query) };
}

function readMarketParams(params) {
  const o = state.offers;
  o.filter = {};
  for (const k of FILTER_KEYS) if (params.get(k)) o.filter[k] = params.get(k);
  o.sort = params.get("sort") || "price";
  o.order = params.get("order") === "desc" ? "desc" : "asc";
  o.page = Math.max(1, Number(params.get("page")) || 1);
  $("f-gpu").value = o.filter.gpu || "";
  $("f-hub").value = o.filter.hub || "";
  $("f-min").value = o.filter.min_available || "";
  $("f-price").value = o.filter.max_price || "";
  $("f-mine").checked = Boolean(o.filter.mine);
  showSiteChip();
}

/** Put the market view's filters, sort and page in the URL (a new history entry). */
function writeMarketParams() {
  const o = state.offers;
  const params = new URLSearchParams();
  for (const k of FILTER_KEYS) if (o.filter[k]) params.set(k, o.filter[k]);
  if (o.sort !== "price") params.set("sort", o.sort);
  if (o.order !== "asc") params.set("order", o.order);
  if (o.page !== 1) params.set("page", String(o.page));
  const query = params.toString();
  const hash = `#/market${query ? `?${query}` : ""}`;
  if (hash !== window.location.hash) window.history.pushState(null, "", hash);
}

function showSiteChip() {
  const site = state.offers.filter.site || "";
  $("f-site").value = site;
  $("f-site-chip").hidden = !site;
  $("f-site-name").textContent = site ? t("f.site", { name: siteName(site) }) : "";
}

// ---------- market view ----------

function fillSelect(select, values, { keep = true, label = (v) => v } = {}) {
  if (!keep) select.innerHTML = "";
  for (const v of values) {
    const o = document.createElement("option");
    o.value = v;
    o.textContent = label(v);
    select.appendChild(o);
  }
}

function fillGroups(select, groups) {
  for (const [title, values, label] of groups) {
    const og = document.createElement("optgroup");
    og.label = title;
    fillSelect(og, values, { label });
    select.appendChild(og);
  }
}

async function loadMeta() {
  state.meta = await getJson(`${WEB}/meta`, {}, { auth: false });
  const { gpus, cities } = state.meta;
  if (!state.city) state.city = state.meta.default_city;
  const citySelect = $("map-city");
  citySelect.innerHTML = "";
  for (const c of cities) {
    const o = document.createElement("option");
    o.value = c.id;
    o.textContent = cityName(c.id, c.name);
    citySelect.appendChild(o);
  }
  citySelect.value = state.city;
  fillSelect($("index-gpu"), gpus, { keep: false });
  $("index-gpu").value = state.meta.default_gpu || gpus[0];
  const regionLabel = (r) => hubName(r, r);
  fillGroups($("index-hub"), [
    [t("group.regions"), state.meta.regions || [], regionLabel],
    [t("group.hubs"), state.meta.hubs_only || state.meta.hubs, regionLabel],
    [t("group.sites"), (state.meta.sites || []).map((s) => s.id), (id) => siteName(id)],
  ]);
  fillSelect($("f-gpu"), gpus);
  fillGroups($("f-hub"), [
    [t("group.regions"), (state.meta.regions || []).filter((r) => r === "metro" || r === "central"), regionLabel],
    [t("group.hubs"), state.meta.hubs_only || state.meta.hubs, regionLabel],
  ]);
}

async function loadMap() {
  const data = await getJson(`${WEB}/map`, { city: state.city }, { auth: false });
  const json = JSON.stringify(data);
  if (json === state.last.mapJson) return; // nothing moved: keep the drawing (and the focus)
  state.last.mapJson = json;
  state.last.map = data;
  drawMap();
}

function drawMap() {
  if (!state.last.map) return;
  const focused = document.activeElement;
  const keep = focused && focused.closest && focused.closest("#map")
    ? focused.getAttribute("data-site") || focused.getAttribute("data-cluster") : null;
  $("map-reset").hidden = !state.zoom;
  drawMarketMap($("map"), state.last.map, {
    zoom: state.zoom,
    onZoom: (bounds) => {
      state.zoom = bounds;
      drawMap();
      const first = $("map").querySelector("circle.site");
      if (first) first.focus();
    },
    onSiteClick: (s) => {
      const o = state.offers;
      o.filter = { ...o.filter, site: s.id };
      delete o.filter.hub;
      $("f-hub").value = "";
      o.page = 1;
      showSiteChip();
      writeMarketParams();
      loadOffers();
      toast(t("map.filtered", { name: siteName(s.id, s.name) }));
    },
  });
  drawLegend($("map-legend"));
  if (keep) { // a redraw keeps the keyboard where it was
    const again = [...$("map").querySelectorAll("circle.site")]
      .find((c) => (c.getAttribute("data-site") || c.getAttribute("data-cluster")) === keep);
    if (again) again.focus();
  }
}

function indexParams() {
  return {
    gpu: $("index-gpu").value,
    hub: $("index-hub").value,
    period: $("index-period").value,
    pricing: $("index-pricing").value,
  };
}

async function loadIndex() {
  const params = indexParams();
  const data = await getJson(`${WEB}/index`, params, { auth: false });
  state.last.index = data;
  const csv = new URL(`${WEB}/index.csv`, window.location.origin);
  for (const [k, v] of Object.entries(params)) if (v) csv.searchParams.set(k, v);
  $("index-csv").href = csv.pathname + csv.search;
  drawIndex();
}

function drawIndex() {
  const data = state.last.index;
  if (!data) return;
  const p = indexParams();
  const where = p.hub ? ` · ${hubName(p.hub, siteName(p.hub))}` : "";
  const name = `${p.gpu}${where} · ${pricingLabel(p.pricing)}`;
  drawPriceChart($("index-chart"), data.points, data.reference, { name, empty: t("index.none", { name }) });
  const stats = $("index-stats");
  const last = data.points.length ? data.points[data.points.length - 1] : null;
  stats.innerHTML = "";
  const add = (label, value) => {
    const span = document.createElement("span");
    span.append(`${label} `);
    const b = document.createElement("b");
    b.textContent = value;
    span.appendChild(b);
    stats.appendChild(span);
    return span;
  };
  add(t("index.latest"), last ? `${fmtMoney(last.v)}/GPU-h (${fmtTime(last.t)})` : "–");
  add(t("index.points"), fmtInt(data.points.length));
  if (data.reference) {
    const r = data.reference;
    const span = add(t("index.reference"), `${fmtMoney(r.cny_per_gpu_hour)}/GPU-h`);
    span.append(` (${r.date}, ${r.source})`);
    span.className = "reference";
  }
  const method = document.createElement("span");
  method.className = "method";
  method.textContent = data.method;
  stats.appendChild(method);
}

function sortHeaders() {
  const o = state.offers;
  for (const th of $("offers-table").querySelectorAll("th[data-sort]")) {
    const on = th.dataset.sort === o.sort;
    th.setAttribute("aria-sort", on ? (o.order === "asc" ? "ascending" : "descending") : "none");
  }
}

async function loadOffers() {
  const o = state.offers;
  const params = { ...o.filter, sort: o.sort, order: o.order, page: o.page, page_size: o.pageSize };
  const tbody = $("offers-table").querySelector("tbody");
  let data;
  try {
    data = await getJson(`${WEB}/offers`, params, { auth: Boolean(o.filter.mine) });
  } catch (err) {
    tbody.innerHTML = "";
    emptyRow(tbody, 9, explain(err));
    $("offers-pager").innerHTML = "";
    return;
  }
  tbody.innerHTML = "";
  for (const r of data.items) {
    const tr = document.createElement("tr");
    tr.dataset.offer = r.id;
    cell(tr, link(`#/offer/${r.id}`, `#${r.id}`, t("offer.open", { id: r.id })));
    cell(tr, siteName(r.site, r.site_name));
    cell(tr, hubName(r.hub, r.hub));
    cell(tr, r.gpu);
    cell(tr, fmtInt(r.count), "num");
    cell(tr, fmtInt(r.available), "num");
    cell(tr, r.fabric);
    cell(tr, fmtMoney(r.price_cny_per_gpu_hour), "num");
    cell(tr, pricingLabel(r.interruptible ? "interruptible" : "on-demand"));
    tbody.appendChild(tr);
  }
  if (!data.items.length) emptyRow(tbody, 9, t("offers.none"));
  sortHeaders(); // with the rows it describes
  $("offers-count").textContent = t("offers.matching", { n: fmtInt(data.total) });
  pager($("offers-pager"), { page: data.page, pageSize: data.page_size, total: data.total }, (p) => {
    o.page = p;
    writeMarketParams();
    loadOffers();
  });
}

async function loadFills() {
  const f = state.fills;
  const data = await getJson(`${WEB}/fills`, { page: f.page, page_size: f.pageSize }, { auth: false });
  const tbody = $("fills-table").querySelector("tbody");
  tbody.innerHTML = "";
  const first = f.seen.size === 0;
  for (const r of data.items) {
    const tr = document.createElement("tr");
    tr.dataset.fill = r.id;
    if (!first && !f.seen.has(r.id)) tr.className = "new";
    f.seen.add(r.id);
    cell(tr, r.id);
    cell(tr, fmtTime(r.time), "time");
    cell(tr, r.gpu);
    cell(tr, hubName(r.hub, r.hub));
    cell(tr, siteName(r.site, r.site_name));
    cell(tr, fmtInt(r.gpus), "num");
    cell(tr, fmt(r.hours, 1), "num");
    cell(tr, fmtMoney(r.price_cny_per_gpu_hour), "num");
    cell(tr, pricingLabel(r.pricing));
    tbody.appendChild(tr);
  }
  if (!data.items.length) emptyRow(tbody, 9, t("fills.none"));
  $("fills-count").textContent = t("fills.all", { n: fmtInt(data.total) });
  pager($("fills-pager"), { page: data.page, pageSize: data.page_size, total: data.total }, (p) => {
    f.page = p;
    loadFills();
  });
}

async function loadAuctionFills() {
  const data = await getJson(`${WEB}/auction-fills`, { limit: 10 }, { auth: false });
  $("auction-block").hidden = data.total === 0;
  const tbody = $("auction-table").querySelector("tbody");
  tbody.innerHTML = "";
  for (const r of data.items) {
    const tr = document.createElement("tr");
    cell(tr, r.id);
    cell(tr, fmtTime(r.time), "time");
    cell(tr, r.gpu);
    cell(tr, siteName(r.hub, hubName(r.hub, r.hub)));
    cell(tr, fmtInt(r.gpus), "num");
    cell(tr, fmt(r.hours, 1), "num");
    cell(tr, fmtMoney(r.price_cny_per_gpu_hour), "num");
    cell(tr, pricingLabel(r.pricing));
    tbody.appendChild(tr);
  }
  $("auction-count").textContent = t("fills.all", { n: fmtInt(data.total) });
}

async function loadBook() {
  const data = await getJson(`${WEB}/book`, {}, { auth: false });
  state.book = data;
  const tbody = $("book-table").querySelector("tbody");
  tbody.innerHTML = "";
  const maxQty = Math.max(1, ...data.instruments.flatMap((i) => i.levels.map((l) => l.gpus)));
  for (const inst of data.instruments) {
    for (const lv of inst.levels) {
      const tr = document.createElement("tr");
      tr.dataset.instrument = inst.key;
      cell(tr, inst.gpu);
      cell(tr, siteName(inst.hub, hubName(inst.hub, inst.hub)));
      cell(tr, `${pricingLabel(inst.pricing)} · ${fmtTime(inst.start)} +${fmt(inst.hours, 0)} h`);
      cell(tr, t(`book.${lv.side}`));
      cell(tr, fmtMoney(lv.price_cny_per_gpu_hour), "num");
      cell(tr, fmtInt(lv.gpus), "num");
      cell(tr, fmtInt(lv.orders), "num");
      const bar = document.createElement("span");
      bar.className = `depth ${lv.side}`;
      bar.style.width = `${Math.max(2, Math.round((80 * lv.gpus) / maxQty))}px`;
      bar.setAttribute("aria-hidden", "true");
      cell(tr, bar, "depth-col");
      tbody.appendChild(tr);
    }
  }
  if (!data.instruments.length) emptyRow(tbody, 8, t("book.none"));
  tickClearing();
}

function tickClearing() {
  const node = $("book-next");
  const b = state.book;
  if (!b || !b.next_clearing) {
    node.textContent = b && b.clearing_note ? b.clearing_note : "";
    return;
  }
  const left = (Date.parse(b.next_clearing) - Date.now()) / 1000;
  node.textContent = t("book.next", { t: fmtDuration(left), at: fmtTime(b.next_clearing) });
}

function bindMarket() {
  $("map-city").addEventListener("change", () => {
    state.city = $("map-city").value;
    sessionStorage.setItem("suanli.city", state.city);
    loadMap().catch((e) => toast(explain(e), true));
  });
  $("map-reset").addEventListener("click", () => {
    state.zoom = null;
    drawMap();
  });
  for (const id of ["index-gpu", "index-hub", "index-period", "index-pricing"]) {
    $(id).addEventListener("change", () => loadIndex().catch((e) => toast(explain(e), true)));
  }
  $("f-site-clear").addEventListener("click", () => {
    delete state.offers.filter.site;
    state.offers.page = 1;
    showSiteChip();
    writeMarketParams();
    loadOffers();
  });
  $("offer-filter").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const form = new FormData(ev.target);
    const filter = {};
    for (const [k, v] of form.entries()) if (v !== "") filter[k] = k === "mine" ? "true" : v;
    if (filter.mine && !apiKey()) {
      toast(t("f.needkey"), true);
      delete filter.mine;
      $("f-mine").checked = false;
    }
    state.offers.filter = filter;
    state.offers.page = 1;
    showSiteChip();
    writeMarketParams();
    loadOffers();
  });
  for (const th of $("offers-table").querySelectorAll("th[data-sort]")) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "sort";
    button.textContent = th.textContent;
    button.setAttribute("aria-label", t("sort.by", { col: th.textContent }));
    th.textContent = "";
    th.appendChild(button);
    button.addEventListener("click", () => {
      const o = state.offers;
      if (o.sort === th.dataset.sort) o.order = o.order === "asc" ? "desc" : "asc";
      else { o.sort = th.dataset.sort; o.order = "asc"; }
      o.page = 1;
      writeMarketParams();
      loadOffers();
    });
  }
}

// ---------- operator view ----------

async function loadUtilization() {
  const data = await getJson(`${WEB}/utilization`, { hours: $("util-hours").value }, { auth: false });
  state.last.util = data;
  drawUtilization();
}

function drawUtilization() {
  const data = state.last.util;
  if (!data) return;
  const series = data.series.map((s, i) => ({ name: hubName(s.hub, s.hub), colour: hubColour(s.hub, i), points: s.points }));
  drawLineChart($("util-chart"), series, { yMin: 0, yMax: 1, percent: true, empty: t("util.none") });
  const legend = $("util-legend");
  legend.innerHTML = "";
  series.forEach((s) => {
    const span = document.createElement("span");
    const sw = document.createElement("span");
    sw.className = "sw";
    sw.style.background = s.colour;
    span.append(sw, s.name);
    legend.appendChild(span);
  });
  const tbody = $("hubs-table").querySelector("tbody");
  tbody.innerHTML = "";
  for (const h of data.now) {
    const tr = document.createElement("tr");
    cell(tr, hubName(h.hub, h.hub));
    cell(tr, fmtInt(h.sites), "num");
    cell(tr, fmtInt(h.gpus_listed), "num");
    cell(tr, fmtInt(h.gpus_leased), "num");
    cell(tr, `${fmt(100 * h.utilization, 1)}%`, "num");
    tbody.appendChild(tr);
  }
  if (!data.now.length) emptyRow(tbody, 5, t("util.none"));
}

// ---------- account views ----------

async function loadWho() {
  const key = apiKey();
  $("key-clear").hidden = !key;
  if (!key) {
    state.who = null;
    $("key-who").textContent = t("key.public");
    return;
  }
  try {
    state.who = await getJson(`${WEB}/whoami`);
    $("key-who").textContent = `${state.who.role} · ${state.who.tenant}`;
  } catch (err) {
    state.who = null;
    $("key-who").textContent = t("key.bad");
    toast(explain(err), true);
  }
}

async function loadMyOffers() {
  const o = state.myOffers;
  const tbody = $("mine-offers-table").querySelector("tbody");
  const data = await getJson(`${WEB}/offers`, { mine: "true", sort: "id", page: o.page, page_size: o.pageSize });
  tbody.innerHTML = "";
  for (const r of data.items) {
    const tr = document.createElement("tr");
    tr.dataset.offer = r.id;
    const leased = r.count - r.available;
    cell(tr, link(`#/offer/${r.id}`, `#${r.id}`, t("offer.open", { id: r.id })));
    cell(tr, siteName(r.site, r.site_name));
    cell(tr, r.gpu);
    cell(tr, fmtInt(r.count), "num");
    cell(tr, fmtInt(leased), "num");
    cell(tr, `${fmt(r.count ? (100 * leased) / r.count : 0, 1)}%`, "num");
    cell(tr, fmtMoney(r.price_cny_per_gpu_hour), "num");
    cell(tr, fmtMoney(leased * r.price_cny_per_gpu_hour), "num");
    tbody.appendChild(tr);
  }
  if (!data.items.length) emptyRow(tbody, 8, t("mine.nooffers"));
  $("mine-offers-count").textContent = t("mine.open", { n: fmtInt(data.total) });
  pager($("mine-offers-pager"), { page: data.page, pageSize: data.page_size, total: data.total }, (p) => {
    o.page = p;
    loadMyOffers();
  });
}

async function loadRequests() {
  const signedIn = Boolean(state.who);
  const seller = signedIn && state.who.role === "seller";
  $("mine-need-key").hidden = signedIn;
  $("mine-offers").hidden = !seller;
  $("mine-requests").hidden = !signedIn || seller;
  if (seller) {
    await loadMyOffers();
    return;
  }
  if (!signedIn) return;
  const r = state.requests;
  const tbody = $("requests-table").querySelector("tbody");
  let data;
  try {
    data = await getJson(`${WEB}/requests`, { page: r.page, page_size: r.pageSize });
  } catch (err) {
    tbody.innerHTML = "";
    emptyRow(tbody, 6, explain(err));
    return;
  }
  tbody.innerHTML = "";
  for (const q of data.items) {
    const tr = document.createElement("tr");
    tr.dataset.request = q.id;
    cell(tr, link(`#/request/${encodeURIComponent(q.id)}`, q.id));
    cell(tr, q.name || "–");
    cell(tr, q.kind);
    cell(tr, q.model || "–");
    cell(tr, q.status);
    cell(tr, fmtTime(q.created_at), "time");
    tbody.appendChild(tr);
  }
  if (!data.items.length) emptyRow(tbody, 6, t("mine.norequests"));
  $("requests-count").textContent = t("mine.visible", { n: fmtInt(data.total) });
  pager($("requests-pager"), { page: data.page, pageSize: data.page_size, total: data.total }, (p) => {
    r.page = p;
    loadRequests();
  });
}

function keyValues(node, pairs) {
  const dl = document.createElement("dl");
  dl.className = "kv";
  for (const [k, v] of pairs) {
    if (v === null || v === undefined || v === "") continue;
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    if (v instanceof Node) dd.appendChild(v);
    else dd.textContent = v;
    dl.append(dt, dd);
  }
  node.appendChild(dl);
}

let requestToken = 0;

async function loadRequest(id) {
  const body = $("req-body");
  const regionsBody = $("req-regions").querySelector("tbody");
  const assignBody = $("req-assign").querySelector("tbody");
  const grid = $("view-request").querySelector(".grid2");
  body.innerHTML = "";
  regionsBody.innerHTML = "";
  assignBody.innerHTML = "";
  $("req-title").textContent = t("req.title", { id });
  body.className = "";
  if (!apiKey()) {
    body.textContent = t("req.needkey");
    grid.hidden = true;
    return;
  }
  const token = ++requestToken;
  let q;
  try {
    q = await getJson(`${WEB}/requests/${encodeURIComponent(id)}`);
  } catch (err) {
    if (token !== requestToken) return;
    body.textContent = explain(err);
    body.className = "denied";
    grid.hidden = true;
    return;
  }
  if (token !== requestToken) return; // a newer load owns the page
  body.innerHTML = "";
  regionsBody.innerHTML = "";
  assignBody.innerHTML = "";
  body.className = "";
  grid.hidden = false;
  const why = q.explanation && !q.unplaced_reason ? whyText(q) : "";
  keyValues(body, [
    ["Kind", q.kind], ["Status", q.status], ["Model", q.model],
    ["Rate", q.rate_per_s ? `${fmt(q.rate_per_s, 1)} req/s` : ""],
    ["TTFT target", q.ttft_target_ms ? `${fmt(q.ttft_target_ms, 0)} ms (p${q.percentile || 95})` : ""],
    ["TPOT target", q.tpot_target_ms ? `${fmt(q.tpot_target_ms, 0)} ms` : ""],
    ["Cost", q.cost_cny_per_hour != null ? `${fmtMoney(q.cost_cny_per_hour)}/h` : "not placed yet"],
    [t("col.created"), fmtTime(q.created_at)],
    ["Server TTFT", q.server_ttft_ms != null ? `${fmt(q.server_ttft_ms, 0)} ms (sizing, before network)` : ""],
    ["Placement", q.placement_source === "quote" ? "quoted preview (not committed yet)" : ""],
    ["Not placed", q.unplaced_reason], ["Why", why],
  ]);
  for (const r of q.regions) {
    const tr = document.createElement("tr");
    cell(tr, cityName(r.id, r.name));
    cell(tr, fmt(r.weight, 2), "num");
    cell(tr, fmt(r.rtt_ms, 1), "num");
    cell(tr, fmt(r.rtt_budget_ms, 0), "num");
    cell(tr, fmt(r.ttft_ms, 0), "num");
    cell(tr, fmt(r.ttft_target_ms, 0), "num");
    const badge = document.createElement("span");
    badge.className = `badge ${r.met === true ? "ok" : r.met === false ? "bad" : ""}`;
    badge.textContent = r.met === true ? t("met") : r.met === false ? t("missed") : "–";
    cell(tr, badge);
    regionsBody.appendChild(tr);
  }
  if (!q.regions.length) emptyRow(regionsBody, 7, t("req.noregions"));
  for (const a of q.assignments) {
    const tr = document.createElement("tr");
    cell(tr, link(`#/offer/${a.offer_id}`, `#${a.offer_id}`, t("offer.open", { id: a.offer_id })));
    cell(tr, siteName(a.site, a.site_name));
    cell(tr, a.gpu);
    cell(tr, fmtInt(a.gpus), "num");
    cell(tr, fmtMoney(a.cost_cny_per_hour), "num");
    assignBody.appendChild(tr);
  }
  if (!q.assignments.length) emptyRow(assignBody, 5, t("req.notplaced"));
  const placed = q.assignments.map((a) => ({ id: a.site, name: a.site_name || a.site, lat: a.lat, lon: a.lon, gpus: a.gpus }));
  state.last.placement = [q.regions, placed];
  drawPlacementMap($("req-map"), q.regions, placed);
}

let offerToken = 0;

async function loadOffer(id) {
  const body = $("offer-body");
  const tbody = $("offer-fills").querySelector("tbody");
  const token = ++offerToken;
  $("offer-title").textContent = t("offer.title", { id });
  let o;
  try {
    o = await getJson(`${WEB}/offers/${encodeURIComponent(id)}`, {}, { auth: false });
  } catch (err) {
    if (token !== offerToken) return;
    body.textContent = explain(err);
    body.className = "denied";
    return;
  }
  if (token !== offerToken) return; // a newer load owns the page
  body.innerHTML = "";
  tbody.innerHTML = "";
  body.className = "";
  const siteLink = link(`#/market?site=${encodeURIComponent(o.site)}`, siteName(o.site, o.site_name));
  const verified = document.createElement("span");
  verified.className = `badge ${o.verified ? "ok" : ""}`;
  verified.textContent = o.verified ? `✓ ${fmtTime(o.verified_at)}` : t("offer.unverified");
  const m = o.measured;
  const measured = m
    ? t("offer.measured.figures", {
        calls: fmtInt(m.calls), share: fmt(m.attainment * 100, 1),
        ttft: fmt(m.mean_ttft_ms, 0), tpot: fmt(m.mean_tpot_ms, 0),
      })
    : t("offer.measured.none");
  keyValues(body, [
    [t("offer.site"), siteLink],
    [t("offer.hub"), hubName(o.hub, o.hub)],
    [t("offer.province"), o.province],
    ["GPU", `${o.gpu} · ${fmtInt(o.gpus_per_node)}/node`],
    [t("offer.gpus"), `${fmtInt(o.available)} / ${fmtInt(o.count)}`],
    [t("offer.fabric"), o.fabric],
    [t("offer.verification"), verified],
    [t("offer.measured"), measured],
    [t("offer.price"), `${fmtMoney(o.price_cny_per_gpu_hour)}/GPU-h · ${pricingLabel(o.interruptible ? "interruptible" : "on-demand")}`],
    [t("offer.power"), o.power_cny_per_kwh != null ? `${fmtMoney(o.power_cny_per_kwh)}/kWh (PUE ${fmt(o.pue, 2)})` : ""],
    [t("offer.status"), o.status],
    [t("offer.since"), fmtTime(o.created_at)],
  ]);
  state.last.offer = o;
  drawOfferChart();
  for (const f of o.fills) {
    const tr = document.createElement("tr");
    tr.dataset.fill = f.id;
    cell(tr, f.id);
    cell(tr, fmtTime(f.time), "time");
    cell(tr, fmtInt(f.gpus), "num");
    cell(tr, fmt(f.hours, 1), "num");
    cell(tr, fmtMoney(f.price_cny_per_gpu_hour), "num");
    cell(tr, pricingLabel(f.pricing));
    tbody.appendChild(tr);
  }
  if (!o.fills.length) emptyRow(tbody, 6, t("offer.nofills"));
}

function drawOfferChart() {
  const o = state.last.offer;
  if (!o) return;
  const points = [...o.fills].reverse().map((f) => ({
    t: f.time, v: f.price_cny_per_gpu_hour, gpu_hours: f.gpus * (f.hours || 0), fills: 1, stale: false,
  }));
  drawPriceChart($("offer-chart"), points, null, { empty: t("offer.nofills") });
}

function bindKey() {
  $("key-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    setApiKey($("key-input").value.trim());
    $("key-input").value = "";
    await loadWho();
    route();
  });
  $("key-clear").addEventListener("click", async () => {
    setApiKey("");
    await loadWho();
    route();
  });
}

// ---------- routing and live updates ----------

function route() {
  const { parts, params } = parseHash();
  const view = parts[0] || "market";
  state.view = view;
  for (const v of ["market", "operator", "mine", "request", "offer"]) $(`view-${v}`).hidden = v !== view;
  for (const a of document.querySelectorAll("nav a")) {
    const on = a.dataset.view === view || (view === "request" && a.dataset.view === "mine")
      || (view === "offer" && a.dataset.view === "market");
    a.classList.toggle("active", on);
    if (on) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const fail = (e) => toast(explain(e), true);
  if (view === "operator") loadUtilization().catch(fail);
  else if (view === "mine") loadRequests().catch(fail);
  else if (view === "request") loadRequest(decodeURIComponent(parts.slice(1).join("/"))).catch(fail);
  else if (view === "offer") loadOffer(decodeURIComponent(parts.slice(1).join("/"))).catch(fail);
  else {
    readMarketParams(params);
    loadOffers().catch(fail);
    drawMap();
    drawIndex();
  }
}

const SLOW_MS = 10000;
const lastRun = {};
const pending = {};

/** Run `load` now, or once at the end of the SLOW_MS window if it ran recently. */
function throttled(name, load) {
  const now = Date.now();
  const wait = lastRun[name] ? lastRun[name] + SLOW_MS - now : 0;
  if (wait > 0) {
    if (!pending[name]) {
      pending[name] = setTimeout(() => {
        pending[name] = null;
        lastRun[name] = Date.now();
        load().catch(() => {});
      }, wait);
    }
    return Promise.resolve();
  }
  lastRun[name] = now;
  return load();
}

async function poll() {
  const live = $("live");
  try {
    const tk = await getJson(`${WEB}/ticker`, {}, { auth: false });
    const mark = `${tk.latest_fill_id}/${tk.auction_fills_total}`;
    const changed = state.latestFillId !== null && mark !== state.latestFillId;
    state.latestFillId = mark;
    live.className = `live on${changed ? " flash" : ""}`;
    const text = t("live.fills", { n: fmtInt(tk.fills_total + tk.auction_fills_total) });
    if ($("live-text").textContent !== text) $("live-text").textContent = text;
    if (changed) {
      // cheap pages refresh on every new fill; aggregates at most every SLOW_MS
      const jobs = [];
      if (state.view === "market") {
        jobs.push(loadFills(), loadAuctionFills(), loadMap(), loadOffers(), loadBook(), throttled("index", loadIndex));
      }
      if (state.view === "operator") jobs.push(throttled("utilization", loadUtilization));
      await Promise.all(jobs);
    }
  } catch (_) {
    live.className = "live off";
    $("live-text").textContent = t("live.off");
  }
  tickClearing();
  setTimeout(poll, POLL_MS);
}

function redrawAll() {
  drawMap();
  drawIndex();
  drawUtilization();
  drawOfferChart();
  if (state.last.placement) drawPlacementMap($("req-map"), ...state.last.placement);
}

async function main() {
  applyI18n();
  $("lang-switch").value = LANG;
  $("lang-switch").addEventListener("change", () => setLang($("lang-switch").value));
  bindKey();
  bindMarket();
  $("util-hours").addEventListener("change", () => loadUtilization().catch((e) => toast(explain(e), true)));
  // a link to #/... fires popstate (and hashchange); history.pushState fires neither, so
  // popstate alone routes every navigation once
  window.addEventListener("popstate", route);
  let resizeTimer = null;
  let lastWidth = window.innerWidth;
  window.addEventListener("resize", () => {
    if (window.innerWidth === lastWidth) return;
    lastWidth = window.innerWidth;
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(redrawAll, 150);
  });
  await loadStyle(getJson);
  setNames(style().names);
  await loadWho();
  await loadMeta();
  readMarketParams(parseHash().params);
  await Promise.all([loadMap(), loadIndex(), loadFills(), loadAuctionFills(), loadBook()]);
  route();
  poll();
  document.body.dataset.ready = "true";
}

main().catch((e) => toast(explain(e), true));
