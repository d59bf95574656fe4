// Spike: the crowd at a sale's start. An open (arrival-rate) flood of purchases by distinct users that ramps
// to PEAK_RATE within seconds of the start and holds, past the point where the stock sells out.
//   flashsale loadtest setup --stock 20000 --users 50000 --out loadtests/.setup.json
//   k6 run --no-usage-report -e PEAK_RATE=2000 -e HOLD=30s loadtests/spike.js
import exec from 'k6/execution';
import { sleep } from 'k6';
import { purchase } from './lib/contract.js';
import { shopper, untilStart } from './lib/setup.js';
import { thresholds } from './lib/thresholds.js';

const peak = Number(__ENV.PEAK_RATE || 2000);
const hold = __ENV.HOLD || '30s';

export const options = {
  scenarios: {
    spike: {
      executor: 'ramping-arrival-rate',
      startRate: Math.max(1, Math.floor(peak / 20)),
      timeUnit: '1s',
      preAllocatedVUs: Number(__ENV.VUS || 100),
      maxVUs: Number(__ENV.MAX_VUS || 400),
      stages: [
        { target: peak, duration: __ENV.RAMP || '3s' }, // the doors open
        { target: peak, duration: hold }, // the crowd stays, the stock runs out
        { target: 0, duration: '2s' },
      ],
    },
  },
  // Open model: a slow server must not slow the crowd down; dropped iterations mean too few VUs.
  thresholds: thresholds(['purchase'], { dropped_iterations: ['count==0'] }),
  summaryTrendStats: ['avg', 'med', 'p(95)', 'p(99)', 'max'],
};

export function setup() {
  untilStart(sleep);
}

export default function () {
  // One distinct shopper per iteration; once the tokens are all used the same users return (limit_exceeded).
  purchase(shopper(exec.scenario.iterationInTest).token);
}
