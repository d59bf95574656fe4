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

export function say(node, text, kind = "") {
  node.className = `message ${kind}`.trim();
  node.textContent = text;
  node.hidden = !text;
}
