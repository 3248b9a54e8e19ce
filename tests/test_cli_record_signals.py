"""``record indicator_signal.TIMEFRAME:CODES --signal TRIGGER[=VALUE]``: conditions from the indicator options."""

from __future__ import annotations

import pytest
import trio

import upbit_stream as ub
from upbit_stream._cli.args import build_parser
from upbit_stream._cli.args_info import indicator_options, signal_conditions
from upbit_stream._cli.record import record
from upbit_stream._cli.record_file import RecordingWriter
from upbit_stream._cli.values import parse_targets
from upbit_stream.testing import open_fake_upbit

from cli_helpers import run_cli


def _conditions(*argv: str) -> list[ub.SignalCondition]:
    args = build_parser().parse_args(["record", "indicator_signal.5m:KRW-BTC", "-o", "x.jsonl", *argv])
    return signal_conditions(indicator_options(args), args.signal)


def test_each_signal_applies_to_every_named_indicator_that_has_its_trigger():
    assert _conditions("--rsi", "14", "--signal", "oversold=30") == [ub.signal(ub.rsi(14), "oversold", threshold=30)]
    assert _conditions("--signal", "overbought=70") == [ub.signal(ub.rsi(14), "overbought", threshold=70)]  # RSI 14
    both = _conditions("--macd", "12/26/9", "--cross", "5/20", "--volume", "20",
                       "--signal", "golden_cross", "--signal", "volume_spike=2.0")
    assert both == [ub.signal(ub.ma_crossover(5, 20), "golden_cross"), ub.signal(ub.macd(), "golden_cross"),
                    ub.signal(ub.volume(20), "volume_spike", multiplier="2.0")]


@pytest.mark.parametrize(("argv", "message"), [
    (["--rsi", "14", "--signal", "golden_cross"], "none of the named indicators has the trigger 'golden_cross'"),
    (["--rsi", "14", "--signal", "oversold"], "oversold needs =THRESHOLD, one of 20, 30"),
    (["--rsi", "14", "--signal", "oversold=25"], "--signal oversold=25: "),
    (["--rsi", "14", "--signal", "oversold=x"], "--signal oversold=x: "),
    (["--macd", "12/26/9", "--signal", "golden_cross=1"], "golden_cross takes no value"),
    (["--rsi", "10", "--signal", "oversold=30"], "indicator_signal allows fewer values than indicator"),
])
def test_a_signal_that_cannot_be_asked_for_says_why(argv, message):
    with pytest.raises(ValueError, match="^--signal ") as caught:
        _conditions(*argv)
    assert message in str(caught.value)


def test_a_signal_target_needs_conditions_and_keeps_the_target_rules():
    condition = ub.signal(ub.rsi(14), "oversold", threshold=30)
    assert parse_targets(["indicator_signal.60m:KRW-BTC,KRW-ETH"], signals=[condition]) == (
        ub.indicator_signal(["KRW-BTC", "KRW-ETH"], "60m", condition),)
    with pytest.raises(ValueError, match="needs conditions: name indicators and --signal"):
        parse_targets(["indicator_signal.60m:KRW-BTC"])
    with pytest.raises(ValueError, match="KRW markets only"):
        parse_targets(["indicator_signal.5m:BTC-ETH"], signals=[condition])


@pytest.mark.parametrize(("argv", "message"), [
    (["indicator_signal.5m:KRW-BTC"], "needs conditions"),
    (["indicator_signal.5m:KRW-BTC", "--rsi", "14", "--signal", "dead_cross"], "trigger 'dead_cross'"),
    (["indicator_signal.7m:KRW-BTC", "--signal", "oversold=30"], "unknown type 'indicator_signal.7m'"),
])
def test_record_refuses_bad_signal_targets_before_connecting(tmp_path, argv, message):
    done = run_cli("record", *argv, "-o", str(tmp_path / "x.jsonl"), "--url", "ws://127.0.0.1:9/websocket/v1",
                   cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.jsonl").exists()


@pytest.mark.trio
async def test_record_asks_the_info_endpoint_for_the_conditions(tmp_path):
    args = build_parser().parse_args(["record", "indicator_signal.5m:KRW-BTC", "-o", "x.jsonl", "--rsi", "14",
                                      "--signal", "oversold=30", "--signal", "overbought=70"])
    specs = parse_targets(args.targets, signals=signal_conditions(indicator_options(args), args.signal))
    async with open_fake_upbit(seed=4, rate=50) as fake:
        settings = ub.Settings().evolve(
            connection={"public_url": fake.public_url, "private_url": fake.private_url},
            auth={"access_key": fake.access_key, "secret_key": fake.secret_key})
        with trio.fail_after(20):
            async with trio.open_nursery() as nursery:
                stop = trio.Event()
                nursery.start_soon(lambda: record(specs, settings, RecordingWriter(tmp_path / "x.jsonl"), stop=stop))
                asked = await fake.wait_for_request(lambda r: r.endpoint == "info" and r.kind == "message")
                stop.set()
    request = asked[0].request
    assert request is not None
    objects = [item for item in request.types if item.type == "indicator_signal"]
    assert len(objects) == 1 and objects[0].codes == ("KRW-BTC",)
    assert objects[0].spec is not None and objects[0].spec.timeframe == "5m"
    assert set(objects[0].spec.items) == {ub.signal(ub.rsi(14), "oversold", threshold=30),
                                          ub.signal(ub.rsi(14), "overbought", threshold=70)}
