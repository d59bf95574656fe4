// A tiny element builder: text always goes in as text, never as HTML.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v === true) node.setAttribute(k, "");
    else if (v !== false && v !== null && v !== undefined) node.setAttribute(k, v);
  }
  for (const c of children.flat()) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

export const money = (cents) => `$${(cents / 100).toFixed(2)}`;

// Dollars typed by a person ("19.9") as integer cents, or NaN.
export const cents = (text) => (String(text).trim() === "" ? NaN : Math.round(Number(text) * 100));

export function say(node, text, kind = "") {
  node.className = `message ${kind}`.trim();
  node.textContent = text;
  node.hidden = !text;
}

// A form field: its label tied to the input by the input's id, and an optional hint the input is described by.
export function field(text, input, hint = "") {
  const label = el("label", { for: input.id }, text);
  if (!hint) return el("div", { class: "field" }, label, input);
  const help = el("small", { id: `${input.id}-hint`, class: "muted" }, hint);
  input.setAttribute("aria-describedby", help.id);
  return el("div", { class: "field" }, label, input, help);
}

// A stock bar for a sale: the share of its stock still left.
export function stockBar(sale) {
  const pct = sale.stock ? Math.round((100 * sale.stock_left) / sale.stock) : 0;
  return el("div", { class: "bar", role: "progressbar", "aria-label": "stock left", "aria-valuemin": "0",
    "aria-valuemax": String(sale.stock), "aria-valuenow": String(sale.stock_left) },
  el("span", { style: `width:${pct}%` }));
}

export function setBar(bar, sale) {
  const pct = sale.stock ? Math.round((100 * sale.stock_left) / sale.stock) : 0;
  bar.setAttribute("aria-valuemax", String(sale.stock));
  bar.setAttribute("aria-valuenow", String(sale.stock_left));
  bar.firstChild.style.width = `${pct}%`;
}
