"""The order state machine (tests/properties/machine.py) over a bounded number of examples, then
`flashsale audit` of every sale it made once all their orders are paid or cancelled.

FLASHSALE_PROPERTY_EXAMPLES (default 30) and FLASHSALE_PROPERTY_STEPS (default 30) run more; without
FLASHSALE_PROPERTY_SEED the examples are derandomized (the same on every run, so a CI failure reproduces), with
it they come from that seed. Hypothesis keeps no example database (nothing is written to the checkout)."""

from __future__ import annotations

import os
import time
from collections import Counter

from hypothesis import HealthCheck, Phase, seed, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.pipeline.harness import Running, audit
from tests.properties.machine import OrderMachine, wait_for
from tests.properties.observe import Stores

EXAMPLES = int(os.environ.get("FLASHSALE_PROPERTY_EXAMPLES", "30"))
STEPS = int(os.environ.get("FLASHSALE_PROPERTY_STEPS", "30"))
SEED = os.environ.get("FLASHSALE_PROPERTY_SEED", "")

SETTINGS = settings(
    max_examples=EXAMPLES,
    stateful_step_count=STEPS,
    deadline=None,
    database=None,
    derandomize=not SEED,
    print_blob=True,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def test_orders_keep_the_contract_over_random_interleavings(pipe: Running) -> None:
    print(
        f"\n[properties] examples {EXAMPLES}, steps {STEPS}, "
        + (f"seed {SEED}" if SEED else "derandomized (set FLASHSALE_PROPERTY_SEED for other examples)")
    )
    stores = Stores(pipe.world)
    sales: list[str] = []
    seen: Counter[str] = Counter()

    class Machine(OrderMachine):
        pass

    machine = seed(int(SEED))(Machine) if SEED else Machine
    began = time.monotonic()
    try:
        with pipe.client() as http:
            machine.bind(pipe, http, stores, sales, seen)
            run_state_machine_as_test(machine, settings=SETTINGS)
            # Every unpaid order's deadline passes and the timeout worker cancels it; then the audit of each sale.
            for sale_id in sales:
                wait_for(
                    lambda sid=sale_id: all(
                        row.status in ("paid", "cancelled") for row in stores.db(sid).orders.values()
                    ),
                    30,
                    f"every order of sale {sale_id} to be paid or cancelled",
                    interval=0.2,
                )
                audit(pipe.world, sale_id)
    finally:
        stores.close()
    print(f"[properties] {len(sales)} sales in {time.monotonic() - began:.0f}s; outcomes: {dict(sorted(seen.items()))}")
    assert sales, "the state machine ran no example"
