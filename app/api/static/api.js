// The API client: the bearer token (kept for the browser session only) and one request helper.
const TOKEN = "flashsale.token";
const USER = "flashsale.user";

export const session = {
  token: () => sessionStorage.getItem(TOKEN),
  user: () => sessionStorage.getItem(USER),
  set(token, user) { sessionStorage.setItem(TOKEN, token); sessionStorage.setItem(USER, user); },
  clear() { sessionStorage.removeItem(TOKEN); sessionStorage.removeItem(USER); },
  // The token's claims, read for the page's own use only (the server checks the signature): null if unreadable.
  claims(token = session.token()) {
    try {
      const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), "=")));
    } catch (err) {
      return null;
    }
  },
  isAdmin: () => session.claims()?.role === "admin",
};

// Answers {status, body, retryAfter (seconds or null)}; a network failure is status 0.
export async function call(method, path, { body, headers = {} } = {}) {
  const h = { ...headers };
  const token = session.token();
  if (token) h.Authorization = `Bearer ${token}`;
  if (body !== undefined) h["Content-Type"] = "application/json";
  try {
    const res = await fetch(`/api/v1${path}`, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    const retry = res.headers.get("Retry-After");
    return { status: res.status, body: text ? JSON.parse(text) : null, retryAfter: retry === null ? null : Number(retry) };
  } catch (err) {
    return { status: 0, body: { error: "network", message: "the server cannot be reached" }, retryAfter: 1 };
  }
}
