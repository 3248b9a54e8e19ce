"""Types reach users: the package and every example pass ``mypy --strict`` (and pyright, where it is
installed), and a user's typos are errors."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from mypy import api as mypy_api  # in the [test] extra: ./scripts/test installs it

ROOT = Path(__file__).resolve().parent.parent


def run_mypy(*targets: str, cache: Path) -> tuple[int, str]:
    out, err, code = mypy_api.run(["--strict", "--python-executable", sys.executable, "--cache-dir", str(cache),
                                   "--no-error-summary", *targets])
    return code, out + err


def test_the_package_and_every_example_pass_mypy_strict(tmp_path_factory):
    examples = sorted(str(path) for path in (ROOT / "examples").glob("*.py"))  # one run: mypy starts once
    assert any(path.endswith("test_my_strategy.py") for path in examples)
    code, report = run_mypy(str(ROOT / "upbit_stream"), *examples, cache=tmp_path_factory.getbasetemp() / "mypy")
    assert code == 0, report


def pyright_command() -> list[str] | None:
    """How to run pyright here: a ``pyright`` on PATH or this Python's pyright package; None if neither."""
    found = shutil.which("pyright")
    if found is not None:
        return [found]
    if importlib.util.find_spec("pyright") is not None:
        return [sys.executable, "-m", "pyright"]
    return None


def test_the_package_and_every_example_pass_pyright():
    command = pyright_command()
    if command is None:
        pytest.skip("pyright is not installed (it is in the [test] extra: ./scripts/test installs it)")
    if shutil.which("node") is None:  # offline CI: never let pyright download a node of its own
        pytest.skip("no node on PATH: pyright runs on node and would download one on first use")
    result = subprocess.run([*command, "--pythonpath", sys.executable, "upbit_stream", "examples"], cwd=ROOT,
                            capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_users_typos_are_type_errors(tmp_path, tmp_path_factory):
    program = tmp_path / "user_program.py"
    program.write_text(textwrap.dedent('''
        from decimal import Decimal
        import upbit_stream as ub

        async def main() -> None:
            async with ub.open_upbit_session() as session:
                async with session.ticker("KRW-BTC", bufer=10) as tickers:  # typo 1
                    pass
                async with session.trade("KRW-BTC") as trades:
                    trade = await trades.receive()
                    trade.trade_pricee  # typo 2
                    reveal_type(trade)
                async with session.subscribe(ub.ticker("KRW-BTC"), ub.orderbook("KRW-BTC"), gaps=True) as both:
                    reveal_type(await both.receive())
                prices = await session.snapshot(ub.candle(["KRW-BTC"], "1m"))
                reveal_type(prices)
    '''))
    code, report = run_mypy(str(program), cache=tmp_path_factory.getbasetemp() / "mypy")
    assert code == 1
    assert 'Unexpected keyword argument "bufer"' in report
    assert '"Trade" has no attribute "trade_pricee"' in report
    assert 'Revealed type is "upbit_stream.Trade"' in report or 'Revealed type is "upbit_stream._core.events.Trade"' in report
    assert "Ticker | upbit_stream" in report and "Orderbook | upbit_stream" in report and "StreamGap" in report
    assert "dict[str, upbit_stream" in report and "Candle]" in report
