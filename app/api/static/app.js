// The router: one page per location hash (#/login, #/sales, #/sale/ID, #/order/ID, #/admin, #/admin/sale/ID);
// a tick five times a second for countdowns.
import { adminPage, adminSalePage } from "./admin.js";
import { session } from "./api.js";
import { itemPage, loginPage, orderPage, salesPage } from "./pages.js";

const view = document.getElementById("view");
let tickers = [];
const tick = (fn) => tickers.push(fn);
setInterval(() => tickers.forEach((fn) => fn()), 200);

const go = (hash) => { if (location.hash === hash) render(); else location.hash = hash; };

function header() {
  const user = session.user();
  document.getElementById("who").textContent = user ? `Signed in as ${user}` : "";
  document.getElementById("logout").hidden = !user;
}

async function render() {
  tickers = [];
  header();
  const [, page, id, sub] = location.hash.split("/");
  view.replaceChildren();
  if (page === "login") loginPage(view, go);
  else if (page === "admin" && id === "sale" && sub) await adminSalePage(view, tick, go, sub);
  else if (page === "admin") await adminPage(view, go);
  else if (page === "sale" && id) await itemPage(view, tick, go, id);
  else if (page === "order" && id) {
    if (!session.token()) { go("#/login"); return; }
    orderPage(view, tick, id);
  } else await salesPage(view, tick);
  header();
  view.focus();
}

document.getElementById("logout").addEventListener("click", () => { session.clear(); go("#/login"); });
window.addEventListener("hashchange", render);
render();
