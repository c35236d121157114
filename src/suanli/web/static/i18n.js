// Language, names, times and money for the dashboard.
// zh-CN when the browser asks for Chinese (or the switch says so), English otherwise.
// Times are shown in Asia/Shanghai with the date; the API keeps UTC ISO 8601.

const STORE = "suanli.lang";
export const ZONE = "Asia/Shanghai";

const EN = {
  skip: "Skip to content", title: "Suanli 算力 exchange", brand: "Suanli exchange", "nav.market": "Market",
  "nav.operator": "Utilization", "nav.mine": "My account", connecting: "connecting…",
  "live.title": "Polls the exchange for new fills every few seconds",
  "live.fills": "live · {n} fills", "live.off": "offline, retrying",
  "key.placeholder": "API key (optional)", "key.label": "API key", "key.use": "Use key",
  "key.forget": "Forget", "key.public": "public view", "key.bad": "key not accepted",
  "lang.label": "Language",
  "map.title": "Sites and utilization", "map.rings": "Latency rings to",
  "map.aria": "Map of China with data-center sites", "map.reset": "Whole country",
  "map.inset": "South China Sea Islands", "map.cluster": "{n} sites: {names}",
  "map.legend.util": "utilization (leased / listed GPUs)",
  "map.legend.note": "circle area ∝ GPUs listed; dashed rings: round-trip time to the chosen city; a circle with a number is a group of nearby sites (select it to zoom in)",
  "map.site.tip": "{name} · {hub}\nGPUs listed {listed}, leased {leased}\nutilization {util}",
  "map.rtt": "RTT to {city}: {ms} ms", "map.city": "{name} (demand city)",
  "map.filtered": "Offers filtered to site {name}",
  "map.source": "Outline: Natural Earth (public domain)",
  "index.title": "Price index", "index.unit": "¥ per GPU-hour", "index.gpu": "GPU model",
  "index.hub": "Hub, region or site", "index.allhubs": "all hubs", "index.pricing": "Pricing",
  "index.period": "Period", "index.hourly": "hourly", "index.daily": "daily",
  "index.aria": "Price index chart with traded GPU-hours", "index.latest": "latest",
  "index.points": "periods", "index.reference": "reference",
  "index.ref.label": "reference {price}/GPU-h ({date}, {source})",
  "index.none": "No fills for {name} yet", "index.csv": "Download CSV",
  "index.volume": "GPU-hours traded", "index.price": "¥/GPU-h",
  "index.note.stale": "no fills: last value carried forward",
  "index.note.fills": "{h} GPU-h from {n} fills",
  "group.regions": "Regions", "group.hubs": "Hubs", "group.sites": "Sites",
  "pricing.on-demand": "on-demand", "pricing.interruptible": "interruptible",
  "pricing.reserved": "reserved",
  "offers.title": "Offers", "offers.matching": "{n} matching", "f.anygpu": "any GPU",
  "f.anyhub": "any hub", "f.min": "min free GPUs", "f.max": "max ¥/GPU-h",
  "f.mine": "mine only", "f.filter": "Filter", "f.site": "Site: {name}",
  "f.site.clear": "Remove the site filter", "f.gpu": "GPU", "f.hub": "Hub",
  "f.needkey": "Enter a seller key to see your own offers",
  "col.offer": "Offer", "col.site": "Site", "col.hub": "Hub", "col.gpu": "GPU",
  "col.gpus": "GPUs", "col.free": "Free", "col.fabric": "Fabric", "col.price": "¥/GPU-h",
  "col.type": "Type", "col.fill": "Fill", "col.time": "Time (Beijing)", "col.hours": "Hours",
  "col.cleared": "Cleared (Beijing)", "col.hubsite": "Hub / site", "col.sites": "Sites",
  "col.listed": "GPUs listed", "col.leased": "GPUs leased", "col.util": "Utilization",
  "col.leasedn": "Leased", "col.earning": "Earning ¥/h", "col.request": "Request",
  "col.name": "Name", "col.kind": "Kind", "col.model": "Model", "col.status": "Status",
  "col.created": "Created (Beijing)", "col.region": "Region", "col.weight": "Weight",
  "col.rtt": "RTT ms", "col.rttbudget": "RTT budget", "col.ttft": "TTFT ms",
  "col.target": "Target", "col.met": "Met", "col.costh": "¥/h", "col.side": "Side",
  "col.qty": "GPUs", "col.orders": "Orders",
  "offers.none": "No offers match this filter", "fills.title": "Recent fills",
  "fills.all": "{n} in all", "fills.none": "No fills yet", "auction.title": "Call-auction fills",
  "pager": "page {p} of {n} · {rows} rows", "prev": "‹ prev", "next": "next ›",
  "util.title": "Utilization by hub", "util.sub": "leased GPUs / listed GPUs",
  "util.window": "Window", "util.aria": "Utilization by hub over time",
  "util.24": "24 h", "util.72": "3 days", "util.168": "7 days", "util.720": "30 days",
  "util.none": "No capacity listed yet", "hubs.title": "Hubs now",
  "mine.needkey": "Enter an API key above to see your requests and leases. Keys are kept in this browser tab only (sessionStorage) and sent as the service's auth header.",
  "mine.offers": "My offers", "mine.open": "{n} open", "mine.nooffers": "No open offers listed by this key",
  "mine.requests": "Requests", "mine.visible": "{n} visible to this key",
  "mine.norequests": "No requests visible to this key",
  "req.title": "Request {id}", "req.back": "← back", "req.placement": "Placement",
  "req.latency": "Latency and TTFT against target", "req.needkey": "Enter an API key above to see this request.",
  "req.noregions": "No regions (not a serving request)", "req.notplaced": "Not placed yet",
  "req.map": "Placement map", met: "met", missed: "missed",
  "offer.title": "Offer {id}", "offer.history": "Price history", "offer.site": "Site",
  "offer.fabric": "Fabric", "offer.verification": "Probe record (seller)", "offer.unverified": "not verified yet",
  "offer.measured": "Measured by the exchange", "offer.measured.none": "no served traffic measured yet",
  "offer.measured.figures": "{calls} calls · {share}% within SLO · TTFT {ttft} ms · TPOT {tpot} ms",
  "offer.gpus": "GPUs", "offer.price": "Price", "offer.seller": "Seller", "offer.status": "Status",
  "offer.since": "Listed", "offer.hub": "Hub", "offer.province": "Province",
  "offer.power": "Power price", "offer.nofills": "No fills on this offer yet",
  "offer.history.aria": "Prices paid for this offer over time",
  "offer.fills": "Fills on this offer", "offer.open": "Details of offer {id}",
  "book.title": "Order book", "book.sub": "call auction, open orders per instrument",
  "book.next": "next clearing in {t} ({at})", "book.none": "No open bids or asks",
  "book.bid": "bid", "book.ask": "ask",
  "sort.by": "Sort by {col}",
  "site.chip": "Site",
};

const ZH = {
  skip: "跳到正文", title: "算力交易所", brand: "算力交易所", "nav.market": "市场", "nav.operator": "利用率",
  "nav.mine": "我的账户", connecting: "连接中…", "live.title": "每隔几秒查询新的成交",
  "live.fills": "实时 · {n} 笔成交", "live.off": "离线，重试中",
  "key.placeholder": "API 密钥（可选）", "key.label": "API 密钥", "key.use": "使用密钥",
  "key.forget": "清除", "key.public": "公开视图", "key.bad": "密钥无效", "lang.label": "语言",
  "map.title": "站点与利用率", "map.rings": "时延环中心", "map.aria": "中国数据中心站点地图",
  "map.reset": "全国", "map.inset": "南海诸岛", "map.cluster": "{n} 个站点：{names}",
  "map.legend.util": "利用率（已租 / 挂牌 GPU）",
  "map.legend.note": "圆面积 ∝ 挂牌 GPU 数；虚线环：到所选城市的往返时延；带数字的圆是相邻站点的合并（选中可放大）",
  "map.site.tip": "{name} · {hub}\n挂牌 GPU {listed}，已租 {leased}\n利用率 {util}",
  "map.rtt": "到{city}往返时延：{ms} 毫秒", "map.city": "{name}（需求城市）",
  "map.filtered": "报价已按站点 {name} 筛选", "map.source": "轮廓：Natural Earth（公有领域）",
  "index.title": "价格指数", "index.unit": "元 / GPU·小时", "index.gpu": "GPU 型号",
  "index.hub": "枢纽、区域或站点", "index.allhubs": "全部枢纽", "index.pricing": "计价方式",
  "index.period": "周期", "index.hourly": "按小时", "index.daily": "按天",
  "index.aria": "价格指数及成交 GPU 小时图", "index.latest": "最新", "index.points": "周期数",
  "index.reference": "参考价", "index.ref.label": "参考价 {price}/GPU·小时（{date}，{source}）",
  "index.none": "{name} 暂无成交", "index.csv": "下载 CSV", "index.volume": "成交 GPU 小时",
  "index.price": "元/GPU·小时", "index.note.stale": "无成交：沿用上一期数值",
  "index.note.fills": "{n} 笔成交，共 {h} GPU 小时",
  "group.regions": "区域", "group.hubs": "枢纽", "group.sites": "站点",
  "pricing.on-demand": "按需", "pricing.interruptible": "可中断", "pricing.reserved": "预留",
  "offers.title": "报价", "offers.matching": "{n} 条匹配", "f.anygpu": "全部 GPU",
  "f.anyhub": "全部枢纽", "f.min": "最少空闲 GPU", "f.max": "最高 元/GPU·小时",
  "f.mine": "仅看我的", "f.filter": "筛选", "f.site": "站点：{name}", "f.site.clear": "取消站点筛选",
  "f.gpu": "GPU", "f.hub": "枢纽", "f.needkey": "请输入卖方密钥以查看自己的报价",
  "col.offer": "报价", "col.site": "站点", "col.hub": "枢纽", "col.gpu": "GPU",
  "col.gpus": "GPU 数", "col.free": "空闲", "col.fabric": "互联", "col.price": "元/GPU·小时",
  "col.type": "类型", "col.fill": "成交", "col.time": "时间（北京时间）", "col.hours": "小时",
  "col.cleared": "出清时间（北京时间）", "col.hubsite": "枢纽 / 站点", "col.sites": "站点数",
  "col.listed": "挂牌 GPU", "col.leased": "已租 GPU", "col.util": "利用率", "col.leasedn": "已租",
  "col.earning": "收入 元/小时", "col.request": "需求", "col.name": "名称", "col.kind": "类别",
  "col.model": "模型", "col.status": "状态", "col.created": "创建时间（北京时间）",
  "col.region": "地区", "col.weight": "权重", "col.rtt": "往返时延 毫秒", "col.rttbudget": "时延预算",
  "col.ttft": "首字时延 毫秒", "col.target": "目标", "col.met": "达标", "col.costh": "元/小时",
  "col.side": "方向", "col.qty": "GPU 数", "col.orders": "订单数",
  "offers.none": "没有符合条件的报价", "fills.title": "最新成交", "fills.all": "共 {n} 笔",
  "fills.none": "暂无成交", "auction.title": "集合竞价成交",
  "pager": "第 {p} / {n} 页 · {rows} 行", "prev": "‹ 上一页", "next": "下一页 ›",
  "util.title": "各枢纽利用率", "util.sub": "已租 GPU / 挂牌 GPU", "util.window": "时间窗口",
  "util.aria": "各枢纽利用率随时间变化", "util.24": "24 小时", "util.72": "3 天",
  "util.168": "7 天", "util.720": "30 天", "util.none": "暂无挂牌容量", "hubs.title": "各枢纽现状",
  "mine.needkey": "请在上方输入 API 密钥以查看您的需求和租约。密钥只保存在本浏览器标签页（sessionStorage），并作为服务的认证头发送。",
  "mine.offers": "我的报价", "mine.open": "{n} 条挂牌中", "mine.nooffers": "此密钥没有挂牌中的报价",
  "mine.requests": "需求", "mine.visible": "此密钥可见 {n} 条", "mine.norequests": "此密钥没有可见的需求",
  "req.title": "需求 {id}", "req.back": "← 返回", "req.placement": "部署位置",
  "req.latency": "时延与首字时延对比目标", "req.needkey": "请在上方输入 API 密钥以查看此需求。",
  "req.noregions": "无地区（非推理服务需求）", "req.notplaced": "尚未部署", "req.map": "部署地图",
  met: "达标", missed: "未达标",
  "offer.title": "报价 {id}", "offer.history": "价格历史", "offer.site": "站点", "offer.fabric": "互联",
  "offer.verification": "探测记录（卖方）", "offer.unverified": "尚未验证",
  "offer.measured": "交易所实测", "offer.measured.none": "尚无实测服务流量",
  "offer.measured.figures": "{calls} 次调用 · {share}% 达到 SLO · 首字延迟 {ttft} 毫秒 · 每字 {tpot} 毫秒", "offer.gpus": "GPU 数",
  "offer.price": "价格", "offer.seller": "卖方", "offer.status": "状态", "offer.since": "挂牌时间",
  "offer.hub": "枢纽", "offer.province": "省份", "offer.power": "电价",
  "offer.nofills": "此报价暂无成交", "offer.history.aria": "此报价的成交价格随时间变化",
  "offer.fills": "此报价的成交", "offer.open": "报价 {id} 详情",
  "book.title": "订单簿", "book.sub": "集合竞价，各合约的挂单", "book.next": "距下次出清 {t}（{at}）",
  "book.none": "暂无买单或卖单", "book.bid": "买", "book.ask": "卖",
  "sort.by": "按{col}排序", "site.chip": "站点",
};

const TABLES = { en: EN, "zh-CN": ZH };

function chooseLang() {
  const query = new URLSearchParams(window.location.search).get("lang");
  if (query && TABLES[query]) return query;
  const kept = localStorage.getItem(STORE);
  if (kept && TABLES[kept]) return kept;
  const asked = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || "en"];
  return asked.some((l) => String(l).toLowerCase().startsWith("zh")) ? "zh-CN" : "en";
}

export const LANG = chooseLang();

export function setLang(lang) {
  localStorage.setItem(STORE, lang);
  const url = new URL(window.location.href);
  url.searchParams.delete("lang");
  if (url.toString() !== window.location.href) window.location.replace(url.toString());
  else window.location.reload();
}

/** The text of `key` in the page's language, with {name} placeholders filled. */
export function t(key, vars = {}) {
  const table = TABLES[LANG] || EN;
  const raw = table[key] ?? EN[key] ?? key;
  return raw.replace(/\{(\w+)\}/g, (_, k) => (vars[k] === undefined ? `{${k}}` : String(vars[k])));
}

/** Fill every [data-i18n] element's text and [data-i18n-attr="attr:key;..."] attributes. */
export function applyI18n(root = document) {
  document.documentElement.lang = LANG;
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of node.dataset.i18nAttr.split(";")) {
      const [attr, key] = pair.split(":");
      if (attr && key) node.setAttribute(attr.trim(), t(key.trim()));
    }
  }
}

let names = { sites: {}, cities: {}, hubs: {} };

/** Install the display names served by /web/api/style (both languages). */
export function setNames(doc) {
  names = (doc && doc[LANG]) || names;
}

export const siteName = (id, fallback) => names.sites[id] || fallback || id || "–";
export const cityName = (id, fallback) => names.cities[id] || fallback || id || "–";
export const hubName = (id, fallback) => names.hubs[id] || fallback || id || "–";

const NUM = LANG === "zh-CN" ? "zh-CN" : "en-US";

export function fmt(n, digits = 2) {
  if (n === null || n === undefined || !Number.isFinite(Number(n))) return "–";
  return Number(n).toLocaleString(NUM, { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Whole numbers with thousands separators. */
export const fmtInt = (n) => fmt(n, 0);

/** Money in yuan: ¥1,234.50 */
export function fmtMoney(n, digits = 2) {
  if (n === null || n === undefined || !Number.isFinite(Number(n))) return "–";
  const v = Number(n);
  return `${v < 0 ? "−" : ""}¥${fmt(Math.abs(v), digits)}`;
}

const PARTS = new Intl.DateTimeFormat("en-CA", {
  timeZone: ZONE, year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", hourCycle: "h23",
});

/** {y, mo, d, h, mi} of a moment in Asia/Shanghai. */
export function shanghaiParts(ms) {
  const out = {};
  for (const p of PARTS.formatToParts(new Date(ms))) out[p.type] = p.value;
  return { y: out.year, mo: out.month, d: out.day, h: out.hour, mi: out.minute };
}

/** "2026-11-29 20:17" in Asia/Shanghai, from an ISO 8601 string or epoch ms. */
export function fmtTime(value) {
  if (value === null || value === undefined || value === "") return "–";
  const ms = typeof value === "number" ? value : Date.parse(value);
  if (!Number.isFinite(ms)) return String(value);
  const p = shanghaiParts(ms);
  return `${p.y}-${p.mo}-${p.d} ${p.h}:${p.mi}`;
}

/** "1 h 05 min" style duration. */
export function fmtDuration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (LANG === "zh-CN") return h ? `${h} 小时 ${m} 分` : `${m} 分 ${sec} 秒`;
  return h ? `${h} h ${String(m).padStart(2, "0")} min` : `${m} min ${String(sec).padStart(2, "0")} s`;
}
