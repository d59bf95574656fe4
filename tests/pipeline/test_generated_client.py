"""A client generated from the live /openapi.json (openapi-python-client, at test time, into a temporary folder)
registers, signs in, and as an admin creates a commodity and a sale; then it buys and pays, against the real API
and workers. A document that lies about a shape breaks the generated code's parsing here."""

from __future__ import annotations

import importlib
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.pipeline.harness import Running

PACKAGE = "flashsale_generated_client"


@pytest.fixture(scope="module")
def generated(pipe: Running, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    where = tmp_path_factory.mktemp("client")
    spec = where / "openapi.json"
    spec.write_bytes(httpx.get(f"{pipe.base}/openapi.json", timeout=10).content)
    config = where / "config.yaml"
    config.write_text("post_hooks: []\n")  # no formatter run over the generated code
    tool = Path(sys.executable).with_name("openapi-python-client")
    run = subprocess.run(
        [str(tool), "generate", "--path", str(spec), "--output-path", str(where / PACKAGE), "--meta", "none",
         "--config", str(config)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    # A warning means a piece of the document could not be turned into code: the document is what is wrong.
    assert "Warning" not in run.stdout, run.stdout
    sys.path.insert(0, str(where))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(where))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def op(package: ModuleType, name: str) -> Any:
    return importlib.import_module(f"{package.__name__}.api.default.{name}")


def test_a_generated_client_buys_and_pays(generated: ModuleType, pipe: Running) -> None:
    models = importlib.import_module(f"{PACKAGE}.models")
    client_mod = importlib.import_module(f"{PACKAGE}.client")
    anyone = client_mod.Client(base_url=pipe.base, raise_on_unexpected_status=True)

    username = f"gen_{int(time.time() * 1000) % 10**9}"
    credentials = models.Credentials(username=username, password="generated-client-pw")
    user = op(generated, "register").sync(client=anyone, body=credentials)
    assert isinstance(user, models.User) and user.username == username
    token = op(generated, "issue_token").sync(client=anyone, body=credentials)
    assert isinstance(token, models.Token)
    buyer = client_mod.AuthenticatedClient(base_url=pipe.base, token=token.access_token)
    admin = client_mod.AuthenticatedClient(base_url=pipe.base, token=pipe.world.token("admin", admin=True))

    commodity = op(generated, "create_commodity").sync(
        client=admin, body=models.NewCommodity(name="Generated", price_cents=700, image_url="https://e.com/g.png")
    )
    assert isinstance(commodity, models.Commodity), commodity
    now = datetime.now(UTC)
    new_sale = models.NewSale(
        commodity_id=commodity.id, name="Generated sale", price_cents=650, stock=3,
        starts_at=now - timedelta(minutes=1), ends_at=now + timedelta(hours=1), per_user_limit=2,
    )  # fmt: skip
    sale = op(generated, "create_sale").sync(client=admin, body=new_sale)
    assert isinstance(sale, models.Sale), sale
    sale = op(generated, "preheat_sale").sync(id=sale.id, client=admin)
    assert isinstance(sale, models.Sale) and sale.preheated and sale.stock_left == 3

    accepted = op(generated, "purchase").sync(id=sale.id, client=buyer, body=models.Purchase(quantity=2))
    assert isinstance(accepted, models.Accepted), accepted
    deadline = time.monotonic() + 15
    while True:
        order = op(generated, "get_order").sync(id=accepted.order_id, client=buyer)
        assert isinstance(order, models.Order), order
        if order.status.value != "pending":
            break
        assert time.monotonic() < deadline, "the order was never written"
        time.sleep(0.1)
    paid = op(generated, "pay_order").sync(id=accepted.order_id, client=buyer)
    assert isinstance(paid, models.Order), paid
    assert paid.status.value == "paid" and paid.amount_cents == 1300 and paid.paid_at is not None

    # An error comes back as the document's Error.
    refused = op(generated, "purchase").sync(id=sale.id, client=buyer, body=models.Purchase(quantity=1))
    assert isinstance(refused, models.Error) and refused.error == "limit_exceeded", refused
    mine = op(generated, "list_orders").sync(client=buyer, sale_id=sale.id)
    assert isinstance(mine, models.OrderPage) and [o.id for o in mine.items] == [accepted.order_id]
