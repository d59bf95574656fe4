"""The fault suite's per-scenario record: what was accepted, what the database holds, and how the two compare,
counted from the database and the 202s the burst received; written to artifacts/faults/report.{json,md}.

A scenario's record replaces its previous one, so the files always hold the latest run of each scenario."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from tests.pipeline.harness import Db
from tests.support import ROOT

REPORT_DIR = ROOT / "artifacts" / "faults"
COLUMNS = ("scenario", "accepted", "persisted", "oversold", "lost", "duplicated", "recover_s", "notes")


@dataclass
class Record:
    scenario: str
    accepted: int  # 202s received
    persisted: int  # of them, orders with a row
    oversold: int  # units in orders not cancelled beyond the sale's stock
    lost: int  # 202s without a row
    duplicated: int  # rows no 202 named, or a second row for one (user, Idempotency-Key)
    recover_s: float  # from the fault's end until everything accepted was written (or the sale sold again)
    notes: str = ""


def tally(
    db: Db,
    sale_id: int | str,
    accepted: set[str],
    scenario: str,
    recover_s: float,
    notes: str = "",
    unsure: frozenset[str] | set[str] = frozenset(),
) -> Record:
    """Compare the 202s with the sale's rows. Each user of a burst asks once: a row whose purchase got no 202 is
    no duplicate only when its user is `unsure` (no reply, or a 503 that may have reserved) and has no other."""
    found = db.rows("SELECT id, user_id FROM orders WHERE sale_id = %s", int(sale_id))
    rows = {int(oid) for oid, _user in found}
    ids = {int(o) for o in accepted}
    per_user = Counter(user for _oid, user in found)
    unnamed = [user for oid, user in found if int(oid) not in ids]
    stock = int(db.value("SELECT stock FROM sales WHERE id = %s", int(sale_id)))
    taken = int(
        db.value(
            "SELECT COALESCE(SUM(quantity), 0) FROM orders WHERE sale_id = %s AND status <> 'cancelled'", int(sale_id)
        )
    )
    duplicated = sum(1 for user in unnamed if user not in unsure) + sum(n - 1 for n in per_user.values() if n > 1)
    extra = f"{len(unnamed)} order(s) of {len(unsure)} unanswered purchase(s) written" if unsure else ""
    return Record(
        scenario=scenario,
        accepted=len(ids),
        persisted=len(ids & rows),
        oversold=max(0, taken - stock),
        lost=len(ids - rows),
        duplicated=duplicated,
        recover_s=round(recover_s, 2),
        notes="; ".join(n for n in (notes, extra) if n),
    )


def write(record: Record, directory: Path = REPORT_DIR) -> None:
    """Add (or replace) the scenario's record in report.json and render report.md from it."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "report.json"
    found = json.loads(path.read_text()) if path.exists() else {}
    found[record.scenario] = {**asdict(record), "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    path.write_text(json.dumps(found, indent=2, sort_keys=True) + "\n")
    lines = [
        "# Fault scenarios",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for name in sorted(found):
        entry = found[name]
        lines.append("| " + " | ".join(str(entry.get(c, "")).replace("|", "/") for c in COLUMNS) + " |")
    (directory / "report.md").write_text("\n".join(lines) + "\n")
    print(f"\n{record}")


def check(record: Record, *, lost_allowed: bool = False) -> None:
    """The bounds every scenario holds: nothing oversold or duplicated, nothing lost (but where allowed)."""
    assert record.accepted > 0, record
    assert record.oversold == 0, record
    assert record.duplicated == 0, record
    if not lost_allowed:
        assert record.lost == 0 and record.persisted == record.accepted, record


def report(record: Record, *, lost_allowed: bool = False) -> None:
    write(record)
    check(record, lost_allowed=lost_allowed)
