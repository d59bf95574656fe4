// The shopper's pages: log in or sign up, the sale list, a sale's item page and an order's page.
import { call, session } from "./api.js";
import { learn, now, left } from "./clock.js";
import { el, field, money, say, setBar, stockBar } from "./dom.js";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const newKey = () => crypto.getRandomValues(new Uint32Array(4)).join("-");
const MAX_QUANTITY = 100; // the contract's bound on one purchase
const REFRESH_MS = 10000; // the item page re-reads its sale this often (jittered), and at once after a refusal

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

export function saleStatus(sale) {
  if (sale.paused && sale.status === "active") return "paused";
  return sale.status.replace("_", " ");
}

export function countdown(sale) {
  if (now() < Date.parse(sale.starts_at)) return `starts in ${left(sale.starts_at)}`;
  if (now() < Date.parse(sale.ends_at)) return `ends in ${left(sale.ends_at)}`;
  return "ended";
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

const stockText = (sale) => `${sale.stock_left} of ${sale.stock} left · at most ${sale.per_user_limit} per person`;

export async function itemPage(view, tick, go, id) {
  const r = await call("GET", `/sales/${encodeURIComponent(id)}`);
  if (r.status !== 200) { view.replaceChildren(el("p", { class: "message bad" }, "No such sale.")); return; }
  let sale = r.body;
  learn(sale.server_time);
  const msg = el("p", { class: "message", role: "status", hidden: true });
  const when = el("span", { class: "countdown" }, countdown(sale));
  const status = el("span", { class: "status", id: "sale-status" }, saleStatus(sale));
  const bar = stockBar(sale);
  const stock = el("p", { class: "muted", id: "stock-left" }, stockText(sale));
  const most = Math.min(sale.per_user_limit, MAX_QUANTITY);
  const qty = el("input", { id: "quantity", name: "quantity", type: "number", inputmode: "numeric", min: "1",
    max: String(most), value: "1", required: true });
  const buy = el("button", { id: "buy", type: "button", disabled: true }, "Buy now");
  let key = newKey();
  let keyQuantity = 1; // a key is for one quantity: the same key with another is refused
  let busy = false;
  let limitReached = false;
  if (sale.status === "sold_out") say(msg, "Sold out.", "bad");
  const ready = () => !busy && !limitReached && !["sold_out", "ended"].includes(sale.status)
    && now() >= Date.parse(sale.starts_at) && now() < Date.parse(sale.ends_at);
  const show = (fresh) => {
    sale = fresh;
    learn(sale.server_time);
    status.textContent = saleStatus(sale);
    stock.textContent = stockText(sale);
    setBar(bar, sale);
    if (sale.status === "sold_out" && msg.hidden) say(msg, "Sold out.", "bad");
  };
  const refresh = async () => {
    const again = await call("GET", `/sales/${encodeURIComponent(id)}`);
    if (again.status === 200 && buy.isConnected) show(again.body);
  };
  tick(() => { when.textContent = countdown(sale); buy.disabled = !ready(); qty.disabled = busy; });
  buy.addEventListener("click", async () => {
    if (!ready()) return; // a second click while the first is in flight does nothing
    if (!session.token()) { go("#/login"); return; }
    const quantity = most > 1 ? Number(qty.value) : 1;
    if (!Number.isInteger(quantity) || quantity < 1 || quantity > most) {
      say(msg, `Choose a quantity from 1 to ${most}.`, "bad");
      qty.focus();
      return;
    }
    if (quantity !== keyQuantity) { key = newKey(); keyQuantity = quantity; }
    busy = true; buy.disabled = true; qty.disabled = true;
    for (;;) {
      say(msg, "Buying…");
      const res = await call("POST", `/sales/${sale.id}/purchase`, { body: { quantity }, headers: { "Idempotency-Key": key } });
      if (res.status === 202) { key = newKey(); go(`#/order/${res.body.order_id}`); return; }
      if (res.status === 401) { session.clear(); go("#/login"); return; }
      const [text, retry] = REFUSALS[res.body?.error] || [res.body?.message || "The purchase failed.", false];
      if (!retry) {
        say(msg, text, "bad");
        limitReached = res.body?.error === "limit_exceeded";
        if (["sold_out", "ended"].includes(res.body?.error)) sale = { ...sale, status: res.body.error };
        await refresh();
        busy = false; buy.disabled = !ready(); qty.disabled = false;
        return;
      }
      const wait = Math.max(1, res.retryAfter ?? 1);
      say(msg, `${text} in ${wait}s.`, "bad");
      await sleep(wait * 1000); // the same key: a retry buys once
    }
  });
  view.replaceChildren(el("h1", {}, sale.name), el("p", {}, money(sale.price_cents), " · ", status, " · ", when),
    bar, stock, most > 1 ? field("Quantity", qty, `1 to ${most}`) : "", buy, msg);
  (async () => { // re-read the sale now and then, so a pause, a resume or a stock change shows without a reload
    while (buy.isConnected) {
      await sleep(REFRESH_MS * (0.8 + 0.4 * Math.random()));
      if (buy.isConnected && !busy && !document.hidden) await refresh();
    }
  })();
}

// An order's answer to a pay or a cancel that is worth retrying after Retry-After (a pending order, a busy shop).
const retryable = (r) => r.body?.error === "order_pending" || r.status === 429 || r.status === 503 || r.status === 0;

export async function orderPage(view, tick, id) {
  const status = el("strong", { id: "order-status" }, "…");
  const detail = el("p", { id: "order-detail", class: "muted", hidden: true });
  const deadline = el("p", { id: "deadline", hidden: true });
  const msg = el("p", { class: "message", role: "status", hidden: true });
  const pay = el("button", { id: "pay", type: "button", hidden: true }, "Pay");
  const cancel = el("button", { id: "cancel", type: "button", class: "secondary", hidden: true }, "Cancel order");
  let order = null;
  let delay = 250;
  view.replaceChildren(el("h1", {}, "Your order"), el("p", {}, "Status: ", status), detail, deadline,
    el("div", { class: "actions" }, pay, cancel), msg);
  const show = (o) => {
    order = o;
    status.textContent = o.status;
    detail.textContent = `${o.quantity} at ${money(o.amount_cents / o.quantity)} each: ${money(o.amount_cents)}`;
    detail.hidden = false;
    pay.hidden = o.status !== "created";
    cancel.hidden = o.status !== "created" && o.status !== "pending";
    deadline.hidden = o.status !== "created";
    if (o.status === "paid") say(msg, `Paid ${money(o.amount_cents)}. Thank you!`, "good");
    if (o.status === "cancelled") {
      say(msg, o.cancel_reason === "timeout" ? "Cancelled: the payment time ran out." : "Cancelled: the stock went back on sale.", "bad");
    }
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
  // Pay or cancel: retried while the order is still being written (409 order_pending) or the shop is busy.
  const act = async (verb, failed) => {
    pay.disabled = true; cancel.disabled = true;
    for (;;) {
      const r = await call("POST", `/orders/${encodeURIComponent(order.id)}/${verb}`);
      if (r.status === 200) { show(r.body); break; }
      if (retryable(r)) { await sleep(1000 * Math.max(1, r.retryAfter ?? 1)); continue; }
      say(msg, r.body?.message || failed, "bad");
      await fetchOrder();
      break;
    }
    pay.disabled = false; cancel.disabled = false;
  };
  pay.addEventListener("click", () => act("pay", "The payment failed."));
  cancel.addEventListener("click", () => act("cancel", "The order could not be cancelled."));
  // Poll until the order is written, backing off and honouring Retry-After; then keep watching its deadline.
  for (;;) {
    if (!status.isConnected) return; // the shopper has left this order's page
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
