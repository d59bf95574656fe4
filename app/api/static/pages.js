// The shopper's pages: log in or sign up, the sale list, a sale's item page and an order's page.
import { call, session } from "./api.js";
import { learn, now, left } from "./clock.js";
import { el, money, say } from "./dom.js";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const newKey = () => crypto.getRandomValues(new Uint32Array(4)).join("-");

// What a refused purchase means to a shopper, and whether the same key should be retried (after Retry-After).
const REFUSALS = {
  sold_out: ["Sold out.", false],
  limit_exceeded: ["You have reached this sale's limit per person.", false],
  insufficient_stock: ["Not enough left for that quantity.", false],
  paused: ["The sale is paused. Try again in a moment.", false],
  not_started: ["The sale has not started yet.", false],
  ended: ["The sale has ended.", false],
  rate_limited: ["Too many attempts; retrying", true],
  not_ready: ["The sale is not ready yet; retrying", true],
  unavailable: ["The shop is busy; retrying", true],
  network: ["The server cannot be reached; retrying", true],
};

function saleStatus(sale) {
  if (sale.paused && sale.status === "active") return "paused";
  return sale.status.replace("_", " ");
}

function countdown(sale) {
  if (now() < Date.parse(sale.starts_at)) return `starts in ${left(sale.starts_at)}`;
  if (now() < Date.parse(sale.ends_at)) return `ends in ${left(sale.ends_at)}`;
  return "ended";
}

function stockBar(sale) {
  const pct = sale.stock ? Math.round((100 * sale.stock_left) / sale.stock) : 0;
  return el("div", { class: "bar", role: "progressbar", "aria-label": "stock left", "aria-valuemin": "0",
    "aria-valuemax": String(sale.stock), "aria-valuenow": String(sale.stock_left) },
  el("span", { style: `width:${pct}%` }));
}

export function loginPage(view, go) {
  const msg = el("p", { class: "message", role: "status", hidden: true });
  const form = (id, title, action) => {
    const u = el("input", { id: `${id}-user`, name: "username", autocomplete: "username", required: true });
    const p = el("input", { id: `${id}-pass`, name: "password", type: "password", required: true,
      autocomplete: id === "signup" ? "new-password" : "current-password" });
    return el("form", { id, onsubmit: async (e) => {
      e.preventDefault();
      const err = await action(u.value, p.value);
      if (err) say(msg, err, "bad"); else go("#/sales");
    } }, el("h2", {}, title), el("label", { for: u.id }, "Username"), u,
    el("label", { for: p.id }, "Password"), p, el("button", { type: "submit" }, title));
  };
  const login = async (username, password) => {
    const r = await call("POST", "/auth/token", { body: { username, password } });
    if (r.status !== 200) return r.body?.message || "Could not log in.";
    session.set(r.body.access_token, username);
    return null;
  };
  const signup = async (username, password) => {
    const r = await call("POST", "/users", { body: { username, password } });
    if (r.status !== 201) return r.body?.message || "Could not sign up.";
    return login(username, password);
  };
  view.replaceChildren(el("h1", {}, "Welcome"), msg, form("login", "Log in", login), form("signup", "Sign up", signup));
}

export async function salesPage(view, tick) {
  const r = await call("GET", "/sales");
  if (r.status !== 200) { view.replaceChildren(el("p", { class: "message bad" }, r.body?.message || "Could not load the sales.")); return; }
  if (r.body.items[0]) learn(r.body.items[0].server_time);
  const items = r.body.items.map((s) => {
    const when = el("span", { class: "countdown" }, countdown(s));
    tick(() => { when.textContent = countdown(s); });
    return el("li", { "data-sale": s.id }, el("h2", {}, el("a", { href: `#/sale/${s.id}` }, s.name)),
      el("p", {}, money(s.price_cents), " · ", el("span", { class: "status" }, saleStatus(s)), " · ", when),
      stockBar(s), el("p", { class: "muted" }, `${s.stock_left} of ${s.stock} left`));
  });
  view.replaceChildren(el("h1", {}, "Sales"), items.length ? el("ul", { class: "sales" }, items) : el("p", {}, "No sales yet."));
}

export async function itemPage(view, tick, go, id) {
  const r = await call("GET", `/sales/${encodeURIComponent(id)}`);
  if (r.status !== 200) { view.replaceChildren(el("p", { class: "message bad" }, "No such sale.")); return; }
  const sale = r.body;
  learn(sale.server_time);
  const msg = el("p", { class: "message", role: "status", hidden: true });
  const when = el("span", { class: "countdown" }, countdown(sale));
  const buy = el("button", { id: "buy", type: "button", disabled: true }, "Buy now");
  let key = newKey();
  let busy = false;
  let refused = sale.status === "sold_out" || sale.status === "ended";
  if (sale.status === "sold_out") say(msg, "Sold out.", "bad");
  const ready = () => !busy && !refused && now() >= Date.parse(sale.starts_at) && now() < Date.parse(sale.ends_at);
  tick(() => { when.textContent = countdown(sale); buy.disabled = !ready(); });
  buy.addEventListener("click", async () => {
    if (!ready()) return; // a second click while the first is in flight does nothing
    if (!session.token()) { go("#/login"); return; }
    busy = true; buy.disabled = true;
    for (;;) {
      say(msg, "Buying…");
      const res = await call("POST", `/sales/${sale.id}/purchase`, { body: { quantity: 1 }, headers: { "Idempotency-Key": key } });
      if (res.status === 202) { key = newKey(); go(`#/order/${res.body.order_id}`); return; }
      if (res.status === 401) { session.clear(); go("#/login"); return; }
      const [text, retry] = REFUSALS[res.body?.error] || [res.body?.message || "The purchase failed.", false];
      if (!retry) {
        say(msg, text, "bad");
        refused = ["sold_out", "ended", "limit_exceeded"].includes(res.body?.error);
        busy = false; buy.disabled = !ready();
        return;
      }
      const wait = Math.max(1, res.retryAfter ?? 1);
      say(msg, `${text} in ${wait}s.`, "bad");
      await sleep(wait * 1000); // the same key: a retry buys once
    }
  });
  view.replaceChildren(el("h1", {}, sale.name), el("p", {}, money(sale.price_cents), " · ",
    el("span", { class: "status", id: "sale-status" }, saleStatus(sale)), " · ", when), stockBar(sale),
  el("p", { class: "muted" }, `${sale.stock_left} of ${sale.stock} left · at most ${sale.per_user_limit} per person`), buy, msg);
}

export async function orderPage(view, tick, id) {
  const status = el("strong", { id: "order-status" }, "…");
  const deadline = el("p", { id: "deadline", hidden: true });
  const msg = el("p", { class: "message", role: "status", hidden: true });
  const pay = el("button", { id: "pay", type: "button", hidden: true }, "Pay");
  let order = null;
  let delay = 250;
  view.replaceChildren(el("h1", {}, "Your order"), el("p", {}, "Status: ", status), deadline, pay, msg);
  const show = (o) => {
    order = o;
    status.textContent = o.status;
    pay.hidden = o.status !== "created";
    deadline.hidden = o.status !== "created";
    if (o.status === "paid") say(msg, `Paid ${money(o.amount_cents)}. Thank you!`, "good");
    if (o.status === "cancelled") say(msg, o.cancel_reason === "timeout" ? "Cancelled: the payment time ran out." : "Cancelled.", "bad");
  };
  const fetchOrder = async () => {
    const r = await call("GET", `/orders/${encodeURIComponent(id)}`);
    if (r.status === 200) { show(r.body); return r; }
    if (r.status === 404) say(msg, "No such order.", "bad");
    return r;
  };
  tick(() => {
    if (order?.status === "created") deadline.textContent = `Pay within ${left(order.expires_at)}`;
  });
  pay.addEventListener("click", async () => {
    pay.disabled = true;
    for (;;) {
      const r = await call("POST", `/orders/${order.id}/pay`);
      if (r.status === 200) { show(r.body); break; }
      if (r.body?.error === "order_pending" || r.status === 429 || r.status === 503 || r.status === 0) {
        await sleep(1000 * Math.max(1, r.retryAfter ?? 1)); continue;
      }
      say(msg, r.body?.message || "The payment failed.", "bad");
      await fetchOrder();
      break;
    }
    pay.disabled = false;
  });
  // Poll until the order is written, backing off and honouring Retry-After; then keep watching its deadline.
  for (;;) {
    if (!view.isConnected) return;
    const r = await fetchOrder();
    if (r.status === 404 || r.status === 401) return;
    if (order && (order.status === "paid" || order.status === "cancelled")) return;
    if (order && order.status !== "pending") {
      const s = await call("GET", `/sales/${order.sale_id}`);
      if (s.status === 200) learn(s.body.server_time);
      delay = Math.max(1000, Math.min(5000, Date.parse(order.expires_at) - now() + 300));
    } else {
      delay = Math.min(delay * 2, 2000);
    }
    await sleep(r.retryAfter ? r.retryAfter * 1000 : delay);
  }
}
