"""`python -m monitoring [--check]`: write the rules and dashboards into the chart, or check the committed
copies are what the code makes, byte for byte."""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

from monitoring.generate import artefacts

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m monitoring", description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare instead of writing; exit 1 on a difference")
    args = parser.parse_args()
    stale = []
    for relative, content in artefacts().items():
        path = ROOT / relative
        if args.check:
            current = path.read_text() if path.exists() else ""
            if current != content:
                stale.append(relative)
                sys.stdout.writelines(
                    list(
                        difflib.unified_diff(current.splitlines(True), content.splitlines(True), relative, "generated")
                    )[:40]
                )
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
            print(f"wrote {relative}")
    if stale:
        print(f"\n{len(stale)} generated file(s) differ from the code: run `python -m monitoring`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
