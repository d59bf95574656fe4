// Scenario builders shared by the scripts. A constant arrival rate: RATE iterations a second for DURATION, with
// VUS pre-allocated virtual users and at most MAX_VUS (all overridable with -e), from the script's defaults.
export function constantArrival(defaults) {
  return {
    executor: 'constant-arrival-rate',
    rate: Number(__ENV.RATE || defaults.rate),
    timeUnit: '1s',
    duration: __ENV.DURATION || defaults.duration,
    preAllocatedVUs: Number(__ENV.VUS || defaults.vus || 50),
    maxVUs: Number(__ENV.MAX_VUS || defaults.maxVUs || 300),
  };
}
