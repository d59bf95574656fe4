// The admin's pages: sign in with an admin token, create a commodity and a sale, and a sale's live panel
// (preheat, pause and resume, change its stock, watch its stock left and its orders, look an order up).
import { call, session } from "./api.js";
import { learn, now } from "./clock.js";
import { cents, el, field, money, say, setBar, stockBar } from "./dom.js";
import { countdown, saleStatus } from "./pages.js";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const POLL_MS = 1000; // the live panel re-reads its sale this often
const LOG_LINES = 20;

// The sign-in: a pasted admin token (from `flashsale token --user NAME --admin`), kept like a shopper's token.
function signIn(view, go) {
  const msg = el("p", { class: "message", role: "status", hidden: true });
  const token = el("input", { id: "admin-token", name: "token", type: "password", autocomplete: "off",
    spellcheck: "false", required: true });
  const form = el("form", { id: "admin-sign-in", onsubmit: async (e) => {
    e.preventDefault();
    const value = token.value.trim();
    const claims = session.claims(value);
    if (!claims?.sub) { say(msg, "That is not a token.", "bad"); return; }
    if (claims.role !== "admin") { say(msg, "That token is a shopper's, not an admin's.", "bad"); return; }
    // An admin-only call on a sale that cannot exist: 404 means the server took the token as an admin's,
    // and nothing changes. 401 is a token it refuses (another secret, expired).
    const probe = await call("POST", "/sales/0/preheat", { headers: { Authorization: `Bearer ${value}` } });
    if (probe.status === 401) { say(msg, "The server refused that token (expired, or signed with another secret).", "bad"); return; }
    if (probe.status === 403) { say(msg, "That token is not an admin's.", "bad"); return; }
    session.set(value, `${claims.sub} (admin)`);
    token.value = "";
    go("#/admin");
  } }, field("Admin token", token, "What “flashsale token --user NAME --admin” prints. Kept for this browser tab only."),
  el("button", { type: "submit" }, "Sign in"));
  view.replaceChildren(el("h1", {}, "Admin"), el("p", {}, "Sign in with an admin token, or ",
    el("a", { href: "#/login" }, "log in"), " as a user created with ", el("code", {}, "flashsale users create NAME --admin"), "."),
  msg, form);
}

// Stop on a refused token: back to the sign-in, saying why.
function refused(r, msg, go) {
  if (r.status === 401) { session.clear(); go("#/admin"); return true; }
  if (r.status === 403) { say(msg, "This token is not an admin's.", "bad"); return true; }
  return false;
}

function commodityForm(msg, go, created) {
  const name = el("input", { id: "commodity-name", required: true, maxlength: "200" });
  const description = el("textarea", { id: "commodity-description", rows: "2", maxlength: "4000" });
  const price = el("input", { id: "commodity-price", type: "number", min: "0", step: "0.01", inputmode: "decimal", required: true });
  return el("form", { id: "new-commodity", onsubmit: async (e) => {
    e.preventDefault();
    const body = { name: name.value.trim(), price_cents: cents(price.value) };
    if (description.value.trim()) body.description = description.value.trim();
    const r = await call("POST", "/commodities", { body });
    if (refused(r, msg, go)) return;
    if (r.status !== 201) { say(msg, r.body?.message || "Could not create the commodity.", "bad"); return; }
    say(msg, `Commodity “${r.body.name}” created (id ${r.body.id}).`, "good");
    e.target.reset();
    created(r.body);
  } }, el("h2", {}, "New commodity"), field("Name", name), field("Description (optional)", description),
  field("Price in dollars", price), el("button", { type: "submit" }, "Create commodity"));
}

function saleForm(msg, go, commodities) {
  const input = (id, attrs) => el("input", { id, required: true, ...attrs });
  const commodity = el("select", { id: "sale-commodity", required: true });
  const name = input("sale-name", { maxlength: "200" });
  const price = input("sale-price", { type: "number", min: "0", step: "0.01", inputmode: "decimal" });
  const stock = input("sale-stock", { type: "number", min: "1", max: "10000000", inputmode: "numeric", value: "100" });
  const startsIn = input("sale-starts-in", { type: "number", min: "0", inputmode: "numeric", value: "0" });
  const lasts = input("sale-lasts", { type: "number", min: "1", inputmode: "numeric", value: "60" });
  const limit = input("sale-limit", { type: "number", min: "1", max: "1000", inputmode: "numeric", value: "1" });
  const timeout = input("sale-timeout", { type: "number", min: "1", max: "86400", inputmode: "numeric", value: "900" });
  const choices = (items, chosen) => commodity.replaceChildren(
    items.length ? "" : el("option", { value: "" }, "Create a commodity first"),
    ...items.map((c) => el("option", { value: c.id, selected: c.id === chosen }, `${c.name} (${money(c.price_cents)})`)));
  choices(commodities, commodities[0]?.id);
  const form = el("form", { id: "new-sale", onsubmit: async (e) => {
    e.preventDefault();
    // The start on the server's clock (learnt from a sale's server_time), so "in 10 s" means 10 s there.
    const starts = now() + 1000 * Number(startsIn.value);
    const body = { commodity_id: commodity.value, name: name.value.trim(), price_cents: cents(price.value),
      stock: Number(stock.value), starts_at: new Date(starts).toISOString(),
      ends_at: new Date(starts + 60000 * Number(lasts.value)).toISOString(), per_user_limit: Number(limit.value),
      payment_timeout_seconds: Number(timeout.value) };
    const r = await call("POST", "/sales", { body });
    if (refused(r, msg, go)) return;
    if (r.status !== 201) { say(msg, r.body?.message || "Could not create the sale.", "bad"); return; }
    go(`#/admin/sale/${r.body.id}`);
  } }, el("h2", {}, "New sale"), field("Commodity", commodity), field("Sale name", name),
  field("Sale price in dollars", price), field("Stock", stock), field("Starts in (seconds from now)", startsIn),
  field("Lasts (minutes)", lasts), field("Limit per person", limit), field("Payment time (seconds)", timeout),
  el("button", { type: "submit" }, "Create sale"));
  return { form, add: (c) => { commodities.unshift(c); choices(commodities, c.id); } };
}

export async function adminPage(view, go) {
  if (!session.isAdmin()) { signIn(view, go); return; }
  const msg = el("p", { class: "message", role: "status", hidden: true });
  const [commodities, sales] = await Promise.all([call("GET", "/commodities?limit=100"), call("GET", "/sales?limit=100")]);
  const sale = saleForm(msg, go, commodities.status === 200 ? commodities.body.items : []);
  const list = sales.status === 200 ? sales.body.items : [];
  if (list[0]) learn(list[0].server_time);
  const rows = list.map((s) => el("li", { "data-sale": s.id }, el("a", { href: `#/admin/sale/${s.id}` }, s.name),
    ` · ${saleStatus(s)} · ${s.stock_left} of ${s.stock} left`));
  view.replaceChildren(el("h1", {}, "Admin"), msg, commodityForm(msg, go, sale.add), sale.form,
    el("h2", {}, "Sales"), rows.length ? el("ul", { class: "plain" }, rows) : el("p", {}, "No sales yet."));
}

// What changed between two reads of a sale, for the live log (null when nothing did).
function change(before, after) {
  if (after.stock !== before.stock) return `stock set to ${after.stock}`;
  const taken = before.stock_left - after.stock_left;
  if (taken > 0) return `${taken} unit${taken === 1 ? "" : "s"} ordered`;
  if (taken < 0) return `${-taken} unit${taken === -1 ? "" : "s"} back in stock (an order cancelled or timed out)`;
  if (after.paused !== before.paused) return after.paused ? "paused" : "resumed";
  if (after.preheated !== before.preheated) return "preheated";
  return null;
}

export async function adminSalePage(view, tick, go, id) {
  if (!session.isAdmin()) { signIn(view, go); return; }
  const path = `/sales/${encodeURIComponent(id)}`;
  const first = await call("GET", path);
  if (first.status !== 200) { view.replaceChildren(el("p", { class: "message bad" }, "No such sale.")); return; }
  let sale = first.body;
  learn(sale.server_time);
  const msg = el("p", { class: "message", role: "status", hidden: true });
  const value = (key) => el("dd", { id: `admin-${key}` });
  const figures = { status: value("status"), left: value("stock-left"), ordered: value("ordered"),
    preheated: value("preheated"), when: value("countdown") };
  const bar = stockBar(sale);
  const log = el("ol", { id: "admin-log", class: "log", role: "log", "aria-label": "What happened" });
  const preheat = el("button", { id: "preheat", type: "button" }, "Preheat");
  const pause = el("button", { id: "pause", type: "button" }, "Pause");
  const stock = el("input", { id: "new-stock", type: "number", min: "1", max: "10000000", inputmode: "numeric", required: true });
  const orderId = el("input", { id: "order-id", inputmode: "numeric", required: true, autocomplete: "off" });
  const found = el("p", { id: "order-found", hidden: true });
  const show = (fresh) => {
    const what = change(sale, fresh);
    if (what) {
      const at = fresh.server_time.slice(11, 19);
      log.prepend(el("li", {}, el("time", { datetime: fresh.server_time }, at), ` ${what}`));
      while (log.children.length > LOG_LINES) log.lastChild.remove();
    }
    sale = fresh;
    learn(sale.server_time);
    figures.status.textContent = saleStatus(sale) + (sale.paused && sale.status !== "active" ? " (paused)" : "");
    figures.left.textContent = `${sale.stock_left} of ${sale.stock}`;
    figures.ordered.textContent = String(sale.stock - sale.stock_left);
    figures.preheated.textContent = sale.preheated ? "yes" : "no";
    setBar(bar, sale);
    pause.textContent = sale.paused ? "Resume" : "Pause";
  };
  const act = async (method, suffix, body, done) => {
    const r = await call(method, path + suffix, body === undefined ? {} : { body });
    if (refused(r, msg, go)) return;
    if (r.status !== 200) { say(msg, r.body?.message || "That did not work.", "bad"); return; }
    show(r.body);
    say(msg, done(r.body), "good");
  };
  preheat.addEventListener("click", () => act("POST", "/preheat", undefined, (s) => `Preheated: ${s.stock_left} in the cache.`));
  pause.addEventListener("click", () => act("PATCH", "", { paused: !sale.paused }, (s) => (s.paused ? "Paused." : "Resumed.")));
  const stockForm = el("form", { id: "change-stock", class: "inline", onsubmit: (e) => {
    e.preventDefault();
    act("PATCH", "", { stock: Number(stock.value) }, (s) => `Stock set to ${s.stock}; ${s.stock_left} left.`);
  } }, field("New stock", stock, "Never below what is sold."), el("button", { type: "submit" }, "Change stock"));
  const lookup = el("form", { id: "find-order", class: "inline", onsubmit: async (e) => {
    e.preventDefault();
    const r = await call("GET", `/orders/${encodeURIComponent(orderId.value.trim())}`);
    if (refused(r, msg, go)) return;
    found.hidden = false;
    found.className = r.status === 200 ? "" : "message bad";
    found.textContent = r.status !== 200 ? "No such order."
      : `Order ${r.body.id} of ${r.body.user_id}: quantity ${r.body.quantity}, ${money(r.body.amount_cents)}, ${r.body.status}`
        + (r.body.cancel_reason ? ` (${r.body.cancel_reason})` : "") + (r.body.sale_id !== sale.id ? `, in sale ${r.body.sale_id}` : "");
  } }, field("Order id", orderId), el("button", { type: "submit" }, "Look up"));
  show(sale);
  tick(() => { figures.when.textContent = countdown(sale); });
  view.replaceChildren(el("p", {}, el("a", { href: "#/admin" }, "← All sales and new ones")),
    el("h1", {}, sale.name), el("p", { class: "muted" }, `Sale ${sale.id} · ${money(sale.price_cents)} · at most ${sale.per_user_limit} per person · `,
      el("a", { href: `#/sale/${sale.id}` }, "the shopper's page")),
    el("dl", { class: "figures" }, el("dt", {}, "Status"), figures.status, el("dt", {}, "Stock left"), figures.left,
      el("dt", {}, "Units in orders"), figures.ordered, el("dt", {}, "Preheated"), figures.preheated,
      el("dt", {}, "Time"), figures.when),
    bar, el("div", { class: "actions" }, preheat, pause), msg, stockForm,
    el("h2", {}, "Live"), log, el("h2", {}, "Orders"), lookup, found);
  // Live: re-read the sale each second (honouring Retry-After) while this panel is on screen.
  (async () => {
    while (log.isConnected) {
      const r = await call("GET", path);
      if (r.status === 200 && log.isConnected) show(r.body);
      await sleep(r.retryAfter ? r.retryAfter * 1000 : POLL_MS);
    }
  })();
}
