// The public contract (API.md), as k6 calls and the answers each call may give. Anything else is a contract
// violation; 5xx are counted apart; 409 sold_out / limit_exceeded and the like are answers, not errors.
import http from 'k6/http';
import { Counter, Rate } from 'k6/metrics';
import { BASE, SALE_ID } from './setup.js';

// An answer the contract does not allow for that request (wrong status, wrong code, malformed body).
export const contractViolations = new Rate('contract_violations');
// Every 5xx, whatever the request: a flash sale under load must never answer one.
export const serverErrors = new Counter('server_errors');
// No answer at all (connection refused or reset, timeout).
export const transportErrors = new Counter('transport_errors');

// http_req_failed counts only what no request of these scripts expects: 2xx and 409 are contract answers.
http.setResponseCallback(http.expectedStatuses({ min: 200, max: 299 }, 409));

const PURCHASE_REFUSALS = ['sold_out', 'limit_exceeded', 'insufficient_stock'];

function json(res) {
  try {
    return res.json();
  } catch (e) {
    return null;
  }
}

function isError(body, codes) {
  return body !== null && codes.includes(body.error) && typeof body.message === 'string';
}

function judge(res, ok) {
  if (res.status === 0) {
    transportErrors.add(1);
    return false;
  }
  if (res.status >= 500) serverErrors.add(1);
  contractViolations.add(!ok);
  if (!ok) console.warn(`contract: ${res.request.method} ${res.url} -> ${res.status} ${String(res.body).slice(0, 200)}`);
  return ok;
}

function auth(token, extra) {
  return Object.assign({ Authorization: `Bearer ${token}` }, extra || {});
}

// POST /sales/{id}/purchase: 202 {order_id, status} or one of the refusals. Returns {status, body, ok}.
export function purchase(token, { key, quantity, refusals } = {}) {
  const headers = auth(token, key ? { 'Idempotency-Key': key, 'Content-Type': 'application/json' } : {
    'Content-Type': 'application/json',
  });
  const res = http.post(`${BASE}/api/v1/sales/${SALE_ID}/purchase`, JSON.stringify({ quantity: quantity || 1 }), {
    headers,
    tags: { name: 'purchase' },
  });
  const body = json(res);
  const accepted =
    res.status === 202 && body !== null && /^[0-9]+$/.test(String(body.order_id)) && typeof body.order_id === 'string' &&
    ['pending', 'created'].includes(body.status);
  const refused = res.status === 409 && isError(body, refusals || PURCHASE_REFUSALS);
  const ok = judge(res, accepted || refused);
  return { status: res.status, body, ok, accepted: ok && accepted };
}

// GET /orders/{id}: 200 order of this user.
export function getOrder(token, orderId) {
  const res = http.get(`${BASE}/api/v1/orders/${orderId}`, { headers: auth(token), tags: { name: 'order' } });
  const body = json(res);
  const ok = judge(res, res.status === 200 && body !== null && body.id === orderId);
  return { status: res.status, body, ok, retryAfter: Number(res.headers['Retry-After'] || 0) };
}

// POST /orders/{id}/pay: 200 paid, or 409 order_pending with Retry-After while it is not yet written.
export function pay(token, orderId) {
  const res = http.post(`${BASE}/api/v1/orders/${orderId}/pay`, null, { headers: auth(token), tags: { name: 'pay' } });
  const body = json(res);
  const paid = res.status === 200 && body !== null && body.status === 'paid';
  const pending = res.status === 409 && isError(body, ['order_pending']);
  const ok = judge(res, paid || pending);
  return { status: res.status, body, ok, paid: ok && paid, retryAfter: Number(res.headers['Retry-After'] || 0) };
}

// GET /sales/{id}: 200 sale.
export function getSale() {
  const res = http.get(`${BASE}/api/v1/sales/${SALE_ID}`, { tags: { name: 'sale' } });
  const body = json(res);
  const ok = judge(res, res.status === 200 && body !== null && body.id === SALE_ID && Number.isInteger(body.stock_left));
  return { status: res.status, body, ok };
}

// GET /orders?sale_id=: 200 {items, next_cursor}, the user's own orders.
export function listOrders(token) {
  const res = http.get(`${BASE}/api/v1/orders?sale_id=${SALE_ID}&limit=10`, {
    headers: auth(token),
    tags: { name: 'orders' },
  });
  const body = json(res);
  const ok = judge(res, res.status === 200 && body !== null && Array.isArray(body.items) && 'next_cursor' in body);
  return { status: res.status, body, ok };
}
