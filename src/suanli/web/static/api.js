// Thin client for the exchange's HTTP API. The API key lives in sessionStorage only
// (gone when the tab closes) and goes out in the service's auth header.

const KEY_NAME = "suanli.apiKey";

export function apiKey() {
  return sessionStorage.getItem(KEY_NAME) || "";
}

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY_NAME, key);
  else sessionStorage.removeItem(KEY_NAME);
}

export class ApiError extends Error {
  constructor(status, body) {
    super((body && (body.message || body.detail)) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

/** GET a JSON document; `params` become the query string (empty values are dropped). */
export async function getJson(path, params = {}, { auth = true } = {}) {
  const url = new URL(path, window.location.origin);
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, String(v));
  }
  const headers = { Accept: "application/json" };
  const key = apiKey();
  if (auth && key) headers.Authorization = `Bearer ${key}`;
  const response = await fetch(url, { headers });
  let body = null;
  try {
    body = await response.json();
  } catch (_) {
    body = null;
  }
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}
