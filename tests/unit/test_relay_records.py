"""The relay reads each hand-off record's order and sale (to count it in flight) exactly as json.loads would."""

from __future__ import annotations

import pytest

from app.workers.relay import _order_and_sale


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ('{"o":"11","s":"2","u":"ann"}', [(11, 2)]),
        (' {"s": 2, "o": "12"}\n', [(12, 2)]),  # whitespace around it, as json.loads allows
        ('{"o":"11","s":"2"} {"o":"12","s":"2"}', []),  # two records in one: unreadable
        ('{"o":"11","s":"2"},', []),
        ('{"o":"11"}', []),
        ('["11", "2"]', []),
        ('{"o":"x","s":"2"}', []),
        ("", []),
        ("not json", []),
    ],
)
def test_a_record_is_read_as_json_loads_reads_it(record: str, expected: list[tuple[int, int]]) -> None:
    assert _order_and_sale(record) == expected
