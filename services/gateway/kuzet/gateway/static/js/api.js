// Calls to the gateway with the bearer token; errors carry the server's {"error": {code, message}}.

const KEY = "kuzet.token";

export class ApiError extends Error {
  constructor(status, code, message, retryAfter = 0) {
    super(message); this.status = status; this.code = code; this.retryAfter = retryAfter;
  }
}

export const session = {
  get token() { return sessionStorage.getItem(KEY); },
  set token(v) { if (v) sessionStorage.setItem(KEY, v); else sessionStorage.removeItem(KEY); },
  me: null,
  can(perm) { return !!this.me && this.me.permissions.includes(perm); },
};

let onUnauthenticated = () => {};
export function setUnauthenticatedHandler(fn) { onUnauthenticated = fn; }

export async function api(path, { method = "GET", body, query } = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    for (const item of [].concat(v)) if (item !== undefined && item !== null && item !== "") url.searchParams.append(k, item);
  }
  const headers = { Accept: "application/json" };
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  let data = null;
  try { data = await resp.json(); } catch { /* empty or not JSON */ }
  if (!resp.ok) {
    const err = (data && data.error) || { code: `HTTP_${resp.status}`, message: resp.statusText };
    if (resp.status === 401) onUnauthenticated(err.message);
    throw new ApiError(resp.status, err.code, err.message, Number(resp.headers.get("Retry-After")) || 0);
  }
  return data;
}

const pause = (ms) => new Promise((done) => setTimeout(done, ms));

// A call that the per-user rate limit refused is tried again after the Retry-After the gateway
// gave, a few times, instead of failing what the user asked for.
export async function patiently(call, tries = 6) {
  for (let attempt = 1; ; attempt++) {
    try { return await call(); } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 429 || attempt >= tries) throw e;
      await pause(Math.max(1, e.retryAfter) * 1000);
    }
  }
}

export async function signIn(username, password) {
  const resp = await fetch("/oidc/token", {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "password", username, password }),
  });
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new ApiError(resp.status, data.error || "error", data.error_description || "sign-in failed");
  return data.access_token;
}
