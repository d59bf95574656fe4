"""`flashsale bench` refuses cleanly, before it starts anything, when wrk is not installed."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from app.cli.main import main


def test_without_wrk_it_says_how_to_install_it(tmp_path: Path) -> None:
    out = tmp_path / "results"
    empty = tmp_path / "bin"
    empty.mkdir()
    result = CliRunner().invoke(main, ["bench", "--quick", "--out", str(out)], env={"PATH": str(empty)})
    assert result.exit_code == 1
    assert "apt-get install wrk" in result.output
    assert not out.exists()  # refused before it made anything
