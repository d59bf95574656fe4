// Soak: steady mixed traffic for a long time: shoppers looking at the sale, buying, listing their orders.
// Latency and errors must stay flat; run it for an hour against a sale with a large stock.
//   flashsale loadtest setup --stock 1000000 --users 100000 --out loadtests/.setup.json
//   k6 run --no-usage-report -e RATE=300 -e DURATION=1h loadtests/soak.js
import exec from 'k6/execution';
import { sleep } from 'k6';
import { getSale, listOrders, purchase } from './lib/contract.js';
import { constantArrival } from './lib/scenarios.js';
import { shopper, untilStart } from './lib/setup.js';
import { thresholds } from './lib/thresholds.js';

export const options = {
  scenarios: {
    soak: constantArrival({ rate: 300, duration: '30m' }),
  },
  thresholds: thresholds(['sale', 'purchase', 'orders'], { dropped_iterations: ['count==0'] }),
  summaryTrendStats: ['avg', 'med', 'p(95)', 'p(99)', 'max'],
};

export function setup() {
  untilStart(sleep);
}

export default function () {
  const i = exec.scenario.iterationInTest;
  const { token } = shopper(i);
  const pick = i % 10;
  if (pick < 5) getSale(); // half of the traffic: the product page's stock_left
  else if (pick < 8) purchase(token); // distinct users until the tokens wrap round, then limit_exceeded
  else listOrders(token); // "my orders"
}
