// Thresholds shared by the scripts. Contract-level ones are exact; latency bounds are set by P99_MS (default
// 500 ms: a purchase is one Redis round trip, so anything slower is queueing) and can be raised for a loaded
// machine, never the contract-level ones.
const p99 = Number(__ENV.P99_MS || 500);

export function thresholds(names, extra) {
  const t = {
    // Every answer is one the contract allows for its request (sold_out and limit_exceeded included).
    contract_violations: ['rate==0'],
    // No 5xx at all: overload must show as latency or 503 unavailable, which these runs never provoke.
    server_errors: ['count==0'],
    // Unexpected statuses and transport failures (2xx and 409 are expected answers).
    http_req_failed: ['rate==0'],
    transport_errors: ['count==0'],
  };
  for (const name of names) {
    // Tail latency per endpoint: what a shopper waits for at the 99th percentile.
    t[`http_req_duration{name:${name}}`] = [`p(99)<${p99}`];
  }
  return Object.assign(t, extra || {});
}
