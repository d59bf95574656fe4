// Journey: a shopper buys with an idempotency key (and, for some, sends the same request again as a retrying
// client would), polls the order until it is created (honouring Retry-After), and pays a share of them.
//   k6 run --no-usage-report -e RATE=50 -e DURATION=60s -e PAY_SHARE=0.3 loadtests/journey.js
import exec from 'k6/execution';
import { sleep } from 'k6';
import { Counter, Rate, Trend } from 'k6/metrics';
import { getOrder, pay, purchase } from './lib/contract.js';
import { constantArrival } from './lib/scenarios.js';
import { shopper, untilStart } from './lib/setup.js';
import { thresholds } from './lib/thresholds.js';

const paysShare = Number(__ENV.PAY_SHARE || 0.3);
// How long an accepted order may stay pending before the journey gives up on it.
const CREATE_WITHIN_S = Number(__ENV.CREATE_WITHIN_S || 15);

// Seconds from the 202 to the order's row (status created): the pipeline's lag as a shopper sees it.
const createdAfter = new Trend('order_created_seconds');
// Accepted orders never created within CREATE_WITHIN_S: each is a lost or stuck order.
const notCreated = new Counter('orders_not_created');
// A replay of the same Idempotency-Key that did not return the same order.
const replayMismatch = new Counter('idempotency_mismatches');
// Payments of a created, unexpired order that did not end paid.
const payFailed = new Rate('payments_failed');

export const options = {
  scenarios: {
    journey: constantArrival({ rate: 50, duration: '60s' }),
  },
  thresholds: thresholds(['purchase', 'order', 'pay'], {
    orders_not_created: ['count==0'],
    idempotency_mismatches: ['count==0'],
    payments_failed: ['rate==0'],
    // The bound for the pipeline: an accepted order is in the database within 15 s.
    order_created_seconds: [`p(99)<${CREATE_WITHIN_S}`],
  }),
  summaryTrendStats: ['avg', 'med', 'p(95)', 'p(99)', 'max'],
};

export function setup() {
  untilStart(sleep);
}

function pause(retryAfter) {
  sleep(retryAfter > 0 ? retryAfter : 0.25);
}

export default function () {
  const i = exec.scenario.iterationInTest;
  const { index, token } = shopper(i);
  const key = `journey-${index}`;
  const first = purchase(token, { key });
  if (!first.accepted) return; // sold out or over the limit: an answer, the journey ends here
  const orderId = first.body.order_id;
  const acceptedAt = Date.now();
  if (i % 5 === 0) {
    // A client that lost the answer retries with the same key: the same 202 body comes back.
    const again = purchase(token, { key });
    if (!again.accepted || again.body.order_id !== orderId) replayMismatch.add(1);
  }

  let order = null;
  while (Date.now() - acceptedAt < CREATE_WITHIN_S * 1000) {
    const got = getOrder(token, orderId);
    if (!got.ok) return;
    if (got.body.status !== 'pending') {
      order = got.body;
      break;
    }
    pause(got.retryAfter);
  }
  if (order === null) {
    notCreated.add(1);
    return;
  }
  createdAfter.add((Date.now() - acceptedAt) / 1000);

  if ((index % 100) / 100 >= paysShare) return; // a PAY_SHARE of the shoppers, spread over the run
  for (let tries = 0; tries < 20; tries++) {
    const res = pay(token, orderId);
    if (res.paid) {
      payFailed.add(false);
      return;
    }
    if (!res.ok) break;
    pause(res.retryAfter); // 409 order_pending: Retry-After says when to come back
  }
  payFailed.add(true);
}
