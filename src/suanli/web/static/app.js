// Suanli dashboard: views, tables and live polling. Plain ES modules, no build step.
// Every list is paginated and every aggregate computed by the server; the browser only
// ever holds one page of rows.

import { ApiError, apiKey, getJson, setApiKey } from "./api.js";
import { drawLineChart } from "./chart.js";
import { drawLegend, drawMarketMap, drawPlacementMap } from "./map.js";
import { fmt, fmtTime } from "./svg.js";

const WEB = "/web/api";
const POLL_MS = 2000;

const state = {
  meta: null,
  who: null,
  city: sessionStorage.getItem("suanli.city") || "",
  offers: { page: 1, pageSize: 25, sort: "price", order: "asc", filter: {} },
  fills: { page: 1, pageSize: 15, seen: new Set() },
  requests: { page: 1, pageSize: 20 },
  myOffers: { page: 1, pageSize: 20 },
  latestFillId: null,
  view: "market",
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
  info.textContent = `page ${page} of ${pages} · ${total.toLocaleString("en-US")} rows`;
  const prev = document.createElement("button");
  prev.textContent = "‹ prev";
  prev.disabled = page <= 1;
  prev.addEventListener("click", () => go(page - 1));
  const next = document.createElement("button");
  next.textContent = "next ›";
  next.disabled = page >= pages;
  next.addEventListener("click", () => go(page + 1));
  node.append(prev, info, next);
}

// ---------- market view ----------

async function loadMeta() {
  state.meta = await getJson(`${WEB}/meta`, {}, { auth: false });
  const { gpus, hubs, cities } = state.meta;
  if (!state.city) state.city = state.meta.default_city;
  const fill = (select, values, keep = true) => {
    if (!keep) select.innerHTML = "";
    for (const v of values) {
      const o = document.createElement("option");
      o.value = typeof v === "string" ? v : v.id;
      o.textContent = typeof v === "string" ? v : v.name;
      select.appendChild(o);
    }
  };
  fill($("map-city"), cities, false);
  $("map-city").value = state.city;
  fill($("index-gpu"), gpus, false);
  $("index-gpu").value = state.meta.default_gpu || gpus[0];
  fill($("index-hub"), hubs);
  fill($("f-gpu"), gpus);
  fill($("f-hub"), hubs);
}

async function loadMap() {
  const data = await getJson(`${WEB}/map`, { city: state.city }, { auth: false });
  drawMarketMap($("map"), data, {
    onSiteClick: (s) => {
      $("f-hub").value = "";
      state.offers.filter = { ...state.offers.filter, site: s.id };
      state.offers.page = 1;
      loadOffers();
      toast(`Offers filtered to site ${s.name}`);
    },
  });
  drawLegend($("map-legend"));
}

async function loadIndex() {
  const gpu = $("index-gpu").value;
  const hub = $("index-hub").value;
  const period = $("index-period").value;
  const pricing = $("index-pricing").value;
  const data = await getJson(`${WEB}/index`, { gpu, hub, period, pricing }, { auth: false });
  const name = `${gpu}${hub ? ` · ${hub}` : ""} · ${pricing}`;
  drawLineChart($("index-chart"), [{
    name,
    points: data.points.map((p) => ({
      t: p.t, v: p.v,
      note: p.stale ? "no fills: last value carried forward" : `${fmt(p.gpu_hours, 0)} GPU-h from ${p.fills} fills`,
    })),
  }], { yLabel: "CNY / GPU-h", area: true, empty: `No fills for ${name} yet` });
  const stats = $("index-stats");
  const last = data.points.length ? data.points[data.points.length - 1] : null;
  stats.innerHTML = "";
  const add = (label, value) => {
    const span = document.createElement("span");
    span.innerHTML = `${label} <b></b>`;
    span.querySelector("b").textContent = value;
    stats.appendChild(span);
  };
  add("latest", last ? `${fmt(last.v)} CNY/GPU-h` : "–");
  add("points", String(data.points.length));
  if (data.reference_cny_per_gpu_hour) add("list reference", `${fmt(data.reference_cny_per_gpu_hour)}`);
  const method = document.createElement("span");
  method.className = "method";
  method.textContent = data.method;
  stats.appendChild(method);
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
    cell(tr, r.id);
    cell(tr, r.site_name || r.site);
    cell(tr, r.hub);
    cell(tr, r.gpu);
    cell(tr, r.count, "num");
    cell(tr, r.available, "num");
    cell(tr, r.fabric);
    cell(tr, fmt(r.price_cny_per_gpu_hour), "num");
    cell(tr, r.interruptible ? "interruptible" : "on-demand");
    tbody.appendChild(tr);
  }
  if (!data.items.length) emptyRow(tbody, 9, "No offers match this filter");
  $("offers-count").textContent = `${data.total.toLocaleString("en-US")} matching`;
  pager($("offers-pager"), { page: data.page, pageSize: data.page_size, total: data.total }, (p) => {
    o.page = p;
    loadOffers();
  });
  for (const th of $("offers-table").querySelectorAll("th[data-sort]")) {
    th.classList.toggle("sorted-asc", th.dataset.sort === o.sort && o.order === "asc");
    th.classList.toggle("sorted-desc", th.dataset.sort === o.sort && o.order === "desc");
  }
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
    cell(tr, fmtTime(r.time));
    cell(tr, r.gpu);
    cell(tr, r.hub);
    cell(tr, r.site_name || r.site);
    cell(tr, r.gpus, "num");
    cell(tr, fmt(r.hours, 1), "num");
    cell(tr, fmt(r.price_cny_per_gpu_hour), "num");
    cell(tr, r.pricing);
    tbody.appendChild(tr);
  }
  if (!data.items.length) emptyRow(tbody, 9, "No fills yet");
  $("fills-count").textContent = `${data.total.toLocaleString("en-US")} in all`;
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
    cell(tr, fmtTime(r.time));
    cell(tr, r.gpu);
    cell(tr, r.hub);
    cell(tr, r.gpus, "num");
    cell(tr, fmt(r.hours, 1), "num");
    cell(tr, fmt(r.price_cny_per_gpu_hour), "num");
    cell(tr, r.pricing);
    tbody.appendChild(tr);
  }
  $("auction-count").textContent = `${data.total.toLocaleString("en-US")} in all`;
}

function bindMarket() {
  $("map-city").addEventListener("change", () => {
    state.city = $("map-city").value;
    sessionStorage.setItem("suanli.city", state.city);
    loadMap().catch((e) => toast(explain(e), true));
  });
  for (const id of ["index-gpu", "index-hub", "index-period", "index-pricing"]) {
    $(id).addEventListener("change", () => loadIndex().catch((e) => toast(explain(e), true)));
  }
  $("offer-filter").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const form = new FormData(ev.target);
    const filter = {};
    for (const [k, v] of form.entries()) if (v !== "") filter[k] = k === "mine" ? "true" : v;
    if (filter.mine && !apiKey()) {
      toast("Enter a seller key to see your own offers", true);
      delete filter.mine;
      $("f-mine").checked = false;
    }
    state.offers.filter = filter;
    state.offers.page = 1;
    loadOffers();
  });
  for (const th of $("offers-table").querySelectorAll("th[data-sort]")) {
    th.addEventListener("click", () => {
      const o = state.offers;
      if (o.sort === th.dataset.sort) o.order = o.order === "asc" ? "desc" : "asc";
      else { o.sort = th.dataset.sort; o.order = "asc"; }
      o.page = 1;
      loadOffers();
    });
  }
}

// ---------- operator view ----------

async function loadUtilization() {
  const data = await getJson(`${WEB}/utilization`, { hours: $("util-hours").value }, { auth: false });
  drawLineChart($("util-chart"), data.series.map((s) => ({ name: s.hub, points: s.points })), {
    yMin: 0, yMax: 1, percent: true, yLabel: "utilization", empty: "No capacity listed yet",
  });
  const legend = $("util-legend");
  legend.innerHTML = "";
  const palette = ["#1f5fa8", "#b4232a", "#1a7f37", "#9a6700", "#8250df", "#0a7e8c", "#d4591f",
    "#57606a", "#bf3989", "#4d7c0f", "#6e40c9", "#a0522d"];
  data.series.forEach((s, i) => {
    const span = document.createElement("span");
    span.innerHTML = `<span class="sw" style="background:${palette[i % palette.length]}"></span>`;
    span.append(s.hub);
    legend.appendChild(span);
  });
  const tbody = $("hubs-table").querySelector("tbody");
  tbody.innerHTML = "";
  for (const h of data.now) {
    const tr = document.createElement("tr");
    cell(tr, h.hub);
    cell(tr, h.sites, "num");
    cell(tr, h.gpus_listed, "num");
    cell(tr, h.gpus_leased, "num");
    cell(tr, `${fmt(100 * h.utilization, 1)}%`, "num");
    tbody.appendChild(tr);
  }
  if (!data.now.length) emptyRow(tbody, 5, "No capacity listed yet");
}

// ---------- account views ----------

async function loadWho() {
  const key = apiKey();
  $("key-clear").hidden = !key;
  if (!key) {
    state.who = null;
    $("key-who").textContent = "public view";
    return;
  }
  try {
    state.who = await getJson(`${WEB}/whoami`);
    $("key-who").textContent = `${state.who.role} · ${state.who.tenant}`;
  } catch (err) {
    state.who = null;
    $("key-who").textContent = "key not accepted";
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
    cell(tr, r.id);
    cell(tr, r.site_name || r.site);
    cell(tr, r.gpu);
    cell(tr, r.count, "num");
    cell(tr, leased, "num");
    cell(tr, `${fmt(r.count ? (100 * leased) / r.count : 0, 1)}%`, "num");
    cell(tr, fmt(r.price_cny_per_gpu_hour), "num");
    cell(tr, fmt(leased * r.price_cny_per_gpu_hour), "num");
    tbody.appendChild(tr);
  }
  if (!data.items.length) emptyRow(tbody, 8, "No open offers listed by this key");
  $("mine-offers-count").textContent = `${data.total} open`;
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
    const a = document.createElement("a");
    a.href = `#/request/${encodeURIComponent(q.id)}`;
    a.textContent = q.id;
    cell(tr, a);
    cell(tr, q.name || "–");
    cell(tr, q.kind);
    cell(tr, q.model || "–");
    cell(tr, q.status);
    cell(tr, fmtTime(q.created_at));
    tbody.appendChild(tr);
  }
  if (!data.items.length) emptyRow(tbody, 6, "No requests visible to this key");
  $("requests-count").textContent = `${data.total} visible to this key`;
  pager($("requests-pager"), { page: data.page, pageSize: data.page_size, total: data.total }, (p) => {
    r.page = p;
    loadRequests();
  });
}

async function loadRequest(id) {
  const body = $("req-body");
  const regionsBody = $("req-regions").querySelector("tbody");
  const assignBody = $("req-assign").querySelector("tbody");
  const grid = $("view-request").querySelector(".grid2");
  body.innerHTML = "";
  regionsBody.innerHTML = "";
  assignBody.innerHTML = "";
  $("req-title").textContent = `Request ${id}`;
  body.className = "";
  if (!apiKey()) {
    body.textContent = "Enter an API key above to see this request.";
    grid.hidden = true;
    return;
  }
  let q;
  try {
    q = await getJson(`${WEB}/requests/${encodeURIComponent(id)}`);
  } catch (err) {
    body.textContent = explain(err);
    body.className = "denied";
    grid.hidden = true;
    return;
  }
  body.className = "";
  grid.hidden = false;
  const dl = document.createElement("dl");
  dl.className = "kv";
  const add = (k, v) => {
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    dd.textContent = v;
    dl.append(dt, dd);
  };
  add("Kind", q.kind);
  add("Status", q.status);
  if (q.model) add("Model", q.model);
  if (q.rate_per_s) add("Rate", `${fmt(q.rate_per_s, 1)} req/s`);
  if (q.ttft_target_ms) add("TTFT target", `${fmt(q.ttft_target_ms, 0)} ms (p${q.percentile || 95})`);
  if (q.tpot_target_ms) add("TPOT target", `${fmt(q.tpot_target_ms, 0)} ms`);
  add("Cost", q.cost_cny_per_hour != null ? `${fmt(q.cost_cny_per_hour)} CNY/h` : "not placed yet");
  add("Created", `${fmtTime(q.created_at)} UTC`);
  if (q.server_ttft_ms != null) add("Server TTFT", `${fmt(q.server_ttft_ms, 0)} ms (sizing, before network)`);
  if (q.placement_source === "quote") add("Placement", "quoted preview (not committed yet)");
  if (q.unplaced_reason) add("Not placed", q.unplaced_reason);
  if (q.explanation && q.explanation.reason) {
    add("Why", `${q.explanation.reason} (${q.explanation.considered} options considered)`);
  }
  body.appendChild(dl);
  for (const r of q.regions) {
    const tr = document.createElement("tr");
    cell(tr, r.name);
    cell(tr, fmt(r.weight, 2), "num");
    cell(tr, fmt(r.rtt_ms, 1), "num");
    cell(tr, fmt(r.rtt_budget_ms, 0), "num");
    cell(tr, fmt(r.ttft_ms, 0), "num");
    cell(tr, fmt(r.ttft_target_ms, 0), "num");
    const badge = document.createElement("span");
    badge.className = `badge ${r.met === true ? "ok" : r.met === false ? "bad" : ""}`;
    badge.textContent = r.met === true ? "met" : r.met === false ? "missed" : "–";
    cell(tr, badge);
    regionsBody.appendChild(tr);
  }
  if (!q.regions.length) emptyRow(regionsBody, 7, "No regions (not a serving request)");
  for (const a of q.assignments) {
    const tr = document.createElement("tr");
    cell(tr, a.offer_id);
    cell(tr, a.site_name || a.site);
    cell(tr, a.gpu);
    cell(tr, a.gpus, "num");
    cell(tr, fmt(a.cost_cny_per_hour), "num");
    assignBody.appendChild(tr);
  }
  if (!q.assignments.length) emptyRow(assignBody, 5, "Not placed yet");
  const placed = q.assignments.map((a) => ({ name: a.site_name || a.site, lat: a.lat, lon: a.lon, gpus: a.gpus }));
  drawPlacementMap($("req-map"), q.regions, placed);
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
  const hash = window.location.hash || "#/market";
  const parts = hash.slice(2).split("/");
  const view = parts[0] || "market";
  state.view = view;
  for (const v of ["market", "operator", "mine", "request"]) $(`view-${v}`).hidden = v !== view;
  for (const a of document.querySelectorAll("nav a")) {
    a.classList.toggle("active", a.dataset.view === view || (view === "request" && a.dataset.view === "mine"));
  }
  const fail = (e) => toast(explain(e), true);
  if (view === "operator") loadUtilization().catch(fail);
  else if (view === "mine") loadRequests().catch(fail);
  else if (view === "request") loadRequest(decodeURIComponent(parts.slice(1).join("/"))).catch(fail);
  else loadOffers().catch(fail);
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
    const t = await getJson(`${WEB}/ticker`, {}, { auth: false });
    const mark = `${t.latest_fill_id}/${t.auction_fills_total}`;
    const changed = state.latestFillId !== null && mark !== state.latestFillId;
    state.latestFillId = mark;
    live.className = `live on${changed ? " flash" : ""}`;
    const total = t.fills_total + t.auction_fills_total;
    $("live-text").textContent = `live · ${total.toLocaleString("en-US")} fills`;
    if (changed) {
      // cheap pages refresh on every new fill; aggregates at most every SLOW_MS
      const jobs = [];
      if (state.view === "market") {
        jobs.push(loadFills(), loadAuctionFills(), loadMap(), loadOffers(), throttled("index", loadIndex));
      }
      if (state.view === "operator") jobs.push(throttled("utilization", loadUtilization));
      await Promise.all(jobs);
    }
  } catch (_) {
    live.className = "live off";
    $("live-text").textContent = "offline, retrying";
  }
  setTimeout(poll, POLL_MS);
}

async function main() {
  bindKey();
  bindMarket();
  $("util-hours").addEventListener("change", () => loadUtilization().catch((e) => toast(explain(e), true)));
  window.addEventListener("hashchange", route);
  await loadWho();
  await loadMeta();
  await Promise.all([loadMap(), loadIndex(), loadFills(), loadAuctionFills()]);
  route();
  poll();
  document.body.dataset.ready = "true";
}

main().catch((e) => toast(explain(e), true));
