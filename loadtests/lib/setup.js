// The document `flashsale loadtest setup` wrote: the sale and the offline-minted tokens (no login storm).
// SETUP names the file (default loadtests/.setup.json); BASE_URL overrides the API address it recorded.
import { SharedArray } from 'k6/data';

const path = __ENV.SETUP || '../.setup.json';

// One copy of the tokens for all VUs (SharedArray), and the small rest of the document beside it.
export const tokens = new SharedArray('tokens', () => JSON.parse(open(path)).tokens);
const meta = new SharedArray('meta', () => {
  const doc = JSON.parse(open(path));
  return [{ base: doc.base_url, saleId: doc.sale_id, startsAt: doc.starts_at, endsAt: doc.ends_at }];
})[0];

export const BASE = (__ENV.BASE_URL || meta.base).replace(/\/$/, '');
export const SALE_ID = meta.saleId;
export const STARTS_AT = Date.parse(meta.startsAt);

// The i-th simulated shopper, wrapping round when there are fewer tokens than iterations.
export function shopper(i) {
  return { index: i % tokens.length, token: tokens[i % tokens.length] };
}

// Wait (in setup()) until the sale has started, so the first wave meets an open sale.
export function untilStart(sleep, marginMs = 200) {
  const wait = STARTS_AT + marginMs - Date.now();
  if (wait > 0) sleep(wait / 1000);
}
