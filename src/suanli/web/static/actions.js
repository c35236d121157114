// Suanli dashboard: actions with a key, in the "My account" view. Every action is a call to
// the exchange's own API (the same endpoints, checks and errors as the CLI): a buyer quotes
// and orders a request after confirming its cost, releases leases and sees its spend; a
// seller lists, reprices and withdraws offers and sees its earnings and utilization; the
// operator creates and revokes keys and clears the market.

import { ApiError, apiKey, getJson } from "./api.js";

const $ = (id) => document.getElementById(id);
const money = (x) => (x === null || x === undefined ? "–" : Number(x).toFixed(2));

function idempotencyKey() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes); // available without a secure context, unlike randomUUID
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** POST/PATCH a JSON body with the key; POSTs carry a fresh Idempotency-Key. */
async function send(method, path, body) {
  const headers = { Accept: "application/json", "Content-Type": "application/json" };
  headers.Authorization = `Bearer ${apiKey()}`;
  if (method === "POST") headers["Idempotency-Key"] = idempotencyKey();
  const response = await fetch(path, { method, headers, body: JSON.stringify(body ?? {}) });
  let data = null;
  try {
    data = await response.json();
  } catch (_) {
    data = null;
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** Let the rest of the page re-read what an action changed: app.js routes (and so reloads
 * the current view) on popstate; this module listens to hashchange, so it is not re-run. */
function notifyPage() {
  window.dispatchEvent(new PopStateEvent("popstate"));
}

function say(text, isError = false) {
  const node = $("act-message");
  node.textContent = text;
  node.className = `act-message${isError ? " error" : ""}`;
  if (!isError) notifyPage();
}

function failed(err) {
  const hint = err instanceof ApiError && err.body && err.body.hint ? ` ${err.body.hint}` : "";
  say(`${err.message || err}${hint}`, true);
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : String(c ?? "–"));
  return node;
}

/** A right-aligned number cell for row(). */
const num = (value) => ({ num: value });

function row(cells, attrs = {}) {
  return el("tr", attrs, ...cells.map((c) =>
    c !== null && typeof c === "object" && "num" in c ? el("td", { class: "num" }, c.num) : el("td", {}, c)));
}

function fill(tableId, rows, columns, empty) {
  const tbody = $(tableId).querySelector("tbody");
  tbody.replaceChildren(...rows);
  if (!rows.length) tbody.append(el("tr", {}, el("td", { colspan: columns, class: "empty" }, empty)));
}

// ---------- buyer ----------

/** "met" / "missed" per region with TTFT against its target, e.g. "met: TTFT 207 vs 800 ms". */
export function sloText(view) {
  const regions = view.regions || [];
  if (!regions.length) return view.kind === "serve" ? "not placed" : "no latency SLO";
  return regions
    .map((r) => {
      const verdict = r.met === true ? "met" : r.met === false ? "missed" : "unknown";
      const ttft = r.ttft_ms == null ? "" : ` (TTFT ${Math.round(r.ttft_ms)} vs ${Math.round(r.ttft_target_ms)} ms)`;
      return `${r.name}: ${verdict}${ttft}`;
    })
    .join("; ");
}

/** The placement's explanation in one line. */
export function whyText(view) {
  if (view.unplaced_reason) return view.unplaced_reason;
  const ex = view.explanation;
  if (!ex) return "no quote yet";
  const rejected = Object.entries(ex.rejected_by_reason || {})
    .map(([reason, n]) => `${n} ${reason}`)
    .join(", ");
  return `${ex.considered} offers considered${ex.option ? `, chose ${ex.option}` : ""}${rejected ? `; rejected: ${rejected}` : ""}`;
}

async function quote(requestId) {
  const q = await send("POST", "/quotes", { request_id: requestId });
  say(q.feasible ? `Quote ${q.id}: ${q.gpus} GPUs, ${money(q.cost_cny_per_hour)} CNY/h` : `Quote ${q.id}: not feasible`, !q.feasible);
  await loadBuyer();
}

function confirmOrder(view) {
  const box = $("act-confirm");
  const plan = (view.assignments || []).map((a) =>
    row([a.offer_id, a.site, a.gpu, num(a.gpus), num(money(a.cost_cny_per_hour))]),
  );
  const hours = el("input", { id: "act-hours", type: "number", min: "0.1", step: "0.1", value: "24", "aria-label": "Hours" });
  const total = el("span", { id: "act-total" });
  const update = () => {
    const h = Number(hours.value) || 0;
    total.textContent = `${money(view.cost_cny_per_hour)} CNY/h × ${h} h = ${money(view.cost_cny_per_hour * h)} CNY`;
  };
  hours.addEventListener("input", update);
  update();
  box.replaceChildren(
    el("h3", { class: "sub" }, `Order quote ${view.quote_id} for request ${view.id}?`),
    el("table", { class: "data" },
      el("thead", {}, el("tr", {}, ...["Offer", "Site", "GPU", "GPUs", "CNY/h"].map((h) => el("th", {}, h)))),
      el("tbody", {}, ...plan)),
    el("p", { class: "controls" }, el("label", {}, "Hours ", hours), " ", total),
    el("p", { class: "controls" },
      el("button", { id: "act-confirm-order", type: "button", onclick: () => placeOrder(view.quote_id, Number(hours.value)).catch(failed) }, "Confirm order"),
      el("button", { id: "act-cancel-order", type: "button", onclick: () => { box.hidden = true; } }, "Cancel")),
  );
  box.hidden = false;
}

async function placeOrder(quoteId, hours) {
  const order = await send("POST", "/orders", { quote_id: quoteId, hours: hours > 0 ? hours : undefined });
  $("act-confirm").hidden = true;
  say(`Order ${order.id} ${order.status}: ${order.gpus} GPUs, ${money(order.cost_cny_per_hour)} CNY/h`);
  await loadBuyer();
}

async function release(leaseId) {
  const lease = await send("POST", `/leases/${leaseId}/release`, {});
  say(`Lease ${lease.id} ${lease.status}`);
  await loadBuyer();
}

async function loadBuyer() {
  const [requests, leases] = await Promise.all([
    getJson("/requests", { limit: 20 }),
    getJson("/leases", { limit: 100 }),
  ]);
  const views = await Promise.all(requests.items.map((r) => getJson(`/web/api/requests/${r.id}`)));
  fill("act-requests", views.map((v) => {
    const buttons = el("span", { class: "controls" },
      el("button", { type: "button", class: "act-quote", onclick: () => quote(v.id).catch(failed) }, "Quote"));
    if (v.quote_id && v.placement_source === "quote") {
      buttons.append(el("button", { type: "button", class: "act-order", onclick: () => confirmOrder(v) }, "Order…"));
    }
    return row([v.id, v.name || v.kind, el("span", { class: "act-status" }, v.status),
      el("span", { class: "act-slo" }, sloText(v)), el("span", { class: "act-why" }, whyText(v)), buttons],
    { dataset: { request: v.id } });
  }), 6, "No requests yet (suanli requests submit)");
  const active = leases.items.filter((l) => l.status === "active");
  fill("act-leases", leases.items.map((l) => row([
    l.id, l.offer_id, l.gpu, l.site, num(l.gpus), num(money(l.price_cny_per_gpu_hour)),
    el("span", { class: "act-lease-status" }, l.status),
    l.status === "active" ? el("button", { type: "button", class: "act-release", onclick: () => release(l.id).catch(failed) }, "Release") : "",
  ], { dataset: { lease: l.id } })), 8, "No leases yet");
  const perHour = active.reduce((s, l) => s + l.gpus * l.price_cny_per_gpu_hour, 0);
  const committed = leases.items.reduce((s, l) => s + (l.hours ? l.gpus * l.price_cny_per_gpu_hour * l.hours : 0), 0);
  $("act-spend").textContent = `Spending ${money(perHour)} CNY/h on ${active.length} active lease(s), `
    + `${active.reduce((s, l) => s + l.gpus, 0)} GPUs; ${money(committed)} CNY committed for leases with a fixed length`;
}

// ---------- seller ----------

async function loadSeller() {
  const [offers, leases] = await Promise.all([
    getJson("/offers", { mine: "true", limit: 100 }),
    getJson("/leases", { limit: 500 }),
  ]);
  const active = leases.items.filter((l) => l.status === "active");
  fill("act-offers", offers.items.map((o) => {
    const leased = active.filter((l) => l.offer_id === o.id).reduce((s, l) => s + l.gpus, 0);
    const price = el("input", { type: "number", min: "0.01", step: "0.01", value: o.price_cny_per_gpu_hour, class: "act-price", "aria-label": `Price of offer ${o.id}` });
    return row([
      o.id, o.site, o.gpu, num(o.count), num(leased), num(`${o.count ? ((100 * leased) / o.count).toFixed(1) : "0.0"}%`),
      num(el("span", { class: "act-offer-price" }, money(o.price_cny_per_gpu_hour))),
      el("span", { class: "controls" }, price,
        el("button", { type: "button", class: "act-reprice", onclick: () => reprice(o.id, Number(price.value)).catch(failed) }, "Reprice"),
        el("button", { type: "button", class: "act-withdraw", onclick: () => withdraw(o.id).catch(failed) }, "Withdraw")),
    ], { dataset: { offer: o.id } });
  }), 8, "No open offers");
  const listed = offers.items.reduce((s, o) => s + o.count, 0);
  const leased = active.reduce((s, l) => s + l.gpus, 0);
  const earning = active.reduce((s, l) => s + l.gpus * l.price_cny_per_gpu_hour, 0);
  $("act-earnings").textContent = `Earning ${money(earning)} CNY/h from ${active.length} active lease(s); `
    + `${leased} of ${listed} listed GPUs leased (${listed ? ((100 * leased) / listed).toFixed(1) : "0.0"}%)`;
}

async function reprice(offerId, price) {
  const current = await getJson(`/offers/${offerId}`);
  const offer = await send("PATCH", `/offers/${offerId}`, { version: current.version, price_cny_per_gpu_hour: price });
  say(`Offer ${offer.id} now ${money(offer.price_cny_per_gpu_hour)} CNY/GPU-h`);
  await loadSeller();
}

async function withdraw(offerId) {
  const offer = await send("POST", `/offers/${offerId}/withdraw`, {});
  say(`Offer ${offer.id}: ${offer.available} GPUs left on the market`);
  await loadSeller();
}

async function addOffer(ev) {
  ev.preventDefault();
  const form = new FormData($("act-offer-form"));
  const offer = await send("POST", "/offers", {
    site: form.get("site"), gpu: form.get("gpu"), count: Number(form.get("count")),
    price_cny_per_gpu_hour: Number(form.get("price")), gpus_per_node: Number(form.get("gpus_per_node")),
  });
  say(`Offer ${offer.id} listed: ${offer.count} ${offer.gpu} at ${offer.site}`);
  await loadSeller();
}

async function fillOfferForm() {
  const form = $("act-offer-form");
  if (form.dataset.filled) return;
  const [sites, meta] = await Promise.all([getJson("/sites", { limit: 500 }), getJson("/web/api/meta", {}, { auth: false })]);
  form.elements.site.replaceChildren(...sites.items.map((s) => el("option", { value: s.id }, s.name || s.id)));
  form.elements.gpu.replaceChildren(...meta.gpus.map((g) => el("option", { value: g }, g)));
  form.dataset.filled = "1";
}

// ---------- operator ----------

async function loadOperator(ownKeyId = loadOperator.own) {
  loadOperator.own = ownKeyId;
  const keys = await getJson("/keys", { limit: 500 });
  fill("act-keys", keys.items.map((k) => row([
    k.key_id, k.name, k.role, k.tenant, el("span", { class: "act-revoked" }, k.revoked_at ? "revoked" : "active"),
    k.revoked_at || k.key_id === ownKeyId ? "" : el("button", { type: "button", class: "act-revoke", onclick: () => revoke(k.key_id).catch(failed) }, "Revoke"),
  ], { dataset: { key: k.key_id } })), 6, "No keys");
}

async function revoke(keyId) {
  await send("POST", `/keys/${keyId}/revoke`, {});
  say(`Key ${keyId} revoked`);
  await loadOperator();
}

async function createKey(ev) {
  ev.preventDefault();
  const form = new FormData($("act-key-form"));
  const made = await send("POST", "/keys", { role: form.get("role"), name: String(form.get("name") || "").trim() });
  $("act-new-key").textContent = `New ${made.role} key for ${made.tenant} (shown once): ${made.key}`;
  say(`Key ${made.key_id} created`);
  await loadOperator();
}

async function clearMarket() {
  const result = await send("POST", "/market/clear", {});
  say(`Market cleared: ${result.fills || 0} fills, ${result.volume_gpus || 0} GPUs`);
}

// ---------- wiring ----------

async function refresh() {
  const panel = $("account-actions");
  const onMine = (window.location.hash || "#/market").startsWith("#/mine");
  if (!onMine || !apiKey()) {
    panel.hidden = true;
    return;
  }
  let who;
  try {
    who = await getJson("/web/api/whoami");
  } catch (_) {
    panel.hidden = true;
    return;
  }
  panel.hidden = false;
  panel.dataset.role = who.role;
  for (const role of ["buyer", "seller", "operator"]) $(`act-${role}`).hidden = who.role !== role;
  try {
    if (who.role === "buyer") await loadBuyer();
    else if (who.role === "seller") await Promise.all([fillOfferForm(), loadSeller()]);
    else await loadOperator(who.key_id);
    panel.dataset.loaded = String(Date.now());
  } catch (err) {
    failed(err);
  }
}

function bind() {
  $("act-offer-form").addEventListener("submit", (ev) => addOffer(ev).catch(failed));
  $("act-key-form").addEventListener("submit", (ev) => createKey(ev).catch(failed));
  $("act-clear").addEventListener("click", () => clearMarket().catch(failed));
  window.addEventListener("hashchange", () => refresh());
  // The key form is handled by app.js first (it stores the key); refresh after it.
  $("key-form").addEventListener("submit", () => setTimeout(refresh, 0));
  $("key-clear").addEventListener("click", () => setTimeout(refresh, 0));
  refresh();
}

bind();
