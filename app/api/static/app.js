// The router: one page per location hash (#/login, #/sales, #/sale/ID, #/order/ID, #/admin, #/admin/sale/ID);
// a tick five times a second for countdowns.
import { adminPage, adminSalePage } from "./admin.js";
import { session } from "./api.js";
import { itemPage, loginPage, orderPage, salesPage } from "./pages.js";

const view = document.getElementById("view");
let tickers = []; // [container, fn]: a stale render's tickers never run
const ticker = (into) => (fn) => tickers.push([into, fn]);
setInterval(() => tickers.forEach(([into, fn]) => { if (into.isConnected) fn(); }), 200);

const go = (hash) => { if (location.hash === hash) render(); else location.hash = hash; };

function header() {
  const user = session.user();
  document.getElementById("who").textContent = user ? `Signed in as ${user}` : "";
  document.getElementById("logout").hidden = !user;
}

// Each render draws into a container of its own: a render still waiting for the server when the location changes
// draws into a detached container, never over the page that replaced it (and its loops see it detached).
async function render() {
  tickers = [];
  header();
  const [, page, id, sub] = location.hash.split("/");
  const into = document.createElement("div");
  view.replaceChildren(into);
  if (page === "login") loginPage(into, go);
  else if (page === "admin" && id === "sale" && sub) await adminSalePage(into, ticker(into), go, sub);
  else if (page === "admin") await adminPage(into, go);
  else if (page === "sale" && id) await itemPage(into, ticker(into), go, id);
  else if (page === "order" && id) {
    if (!session.token()) { go("#/login"); return; }
    orderPage(into, ticker(into), id);
  } else await salesPage(into, ticker(into));
  if (!into.isConnected) return;
  header();
  view.focus();
}

document.getElementById("logout").addEventListener("click", () => { session.clear(); go("#/login"); });
window.addEventListener("hashchange", render);
render();
