"""``watch announcements`` / ``watch indicators``: their options and what their views print (pure parts)."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest

import upbit_stream as ub
from upbit_stream._cli.args import build_parser, parse_targets
from upbit_stream._cli.args_info import indicator_options
from upbit_stream._cli.terminal import plain
from upbit_stream._cli.watch_info import describe_params, render_announcement, render_indicators


def parse(*argv: str):  # noqa: ANN201 - argparse.Namespace
    return build_parser().parse_args(["watch", *argv])


def test_indicator_options_build_validated_indicators_in_order() -> None:
    args = parse("indicators", "KRW-BTC", "KRW-ETH", "--timeframe", "15m", "--rsi", "14", "--macd", "8/17/9",
                 "--bollinger", "20x2.5", "--cross", "EMA:20/60", "--ema", "50", "--volume", "20", "--rsi", "14")
    assert (args.codes, args.timeframe) == (["KRW-BTC", "KRW-ETH"], "15m")
    assert indicator_options(args) == [ub.rsi(14), ub.volume(20), ub.moving_average(50, "EMA"),
                                       ub.bollinger_bands(20, "2.5"), ub.ma_crossover(20, 60, "EMA"), ub.macd(8, 17, 9)]
    assert indicator_options(parse("indicators", "KRW-BTC")) == [ub.rsi(14)]


@pytest.mark.parametrize(("argv", "message"), [
    (["indicators", "KRW-BTC", "--rsi", "15"], "rsi period must be one of"),
    (["indicators", "KRW-BTC", "--bollinger", "20x2.04"], "one decimal place"),
    (["indicators", "KRW-BTC", "--cross", "5/60"], "5/20, 20/60, 30/90, 50/200"),
    (["indicators", "KRW-BTC", "--timeframe", "1m"], "timeframe must be one of 5m"),
    (["announcements", "--category", "listing"], "unknown category 'listing'"),
])
def test_bad_options_are_one_line_usage_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse(*argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_record_takes_announcements_with_or_without_categories() -> None:
    assert parse_targets(["announcement"]) == (ub.announcement(),)
    assert parse_targets(["announcement:trade,wallet", "trade:KRW-BTC"])[0] == ub.announcement(["trade", "wallet"])
    with pytest.raises(ValueError, match="unknown announcement category"):
        parse_targets(["announcement:listing"])


NOTICE = ub.Announcement(event_type=ub.AnnouncementEventType.CREATED, uuid="1", title="[거래] 신규 거래 지원 안내",
                         category=ub.AnnouncementCategory.TRADE, url="https://upbit.com/n?id=1",
                         first_listed_at="2026-07-14T16:36:34+09:00", listed_at="2026-07-14T16:36:34+09:00",
                         timestamp=1, stream_type=ub.StreamType.REALTIME)


def test_an_announcement_is_time_category_event_title_then_its_url() -> None:
    first, second = render_announcement(NOTICE)
    assert first.plain == "2026-07-14 16:36  trade          CREATED  [거래] 신규 거래 지원 안내"
    assert second.plain.strip() == "https://upbit.com/n?id=1"


def test_the_indicator_table_shows_every_value_field_and_waits_for_the_rest() -> None:
    rsi = ub.Indicator(code="KRW-BTC", timeframe="5m", indicator="rsi", params=ub.rsi(14),
                       value=ub.RsiValue(rsi=Decimal("58.75323648")), candle_date_time_utc="2026-09-03T04:50:00",
                       timestamp=2, stream_type=ub.StreamType.REALTIME)
    rows = [("KRW-BTC", ub.rsi(14)), ("KRW-BTC", ub.macd())]
    lines = plain(render_indicators(rows, {("KRW-BTC", ub.rsi(14)): rsi})).split("\n")
    assert lines[0].split() == ["code", "indicator", "candle", "(UTC)", "values"]
    assert "rsi(14)" in lines[1] and "2026-09-03 04:50:00" in lines[1] and "rsi 58.7532" in lines[1]
    assert "macd(12/26/9)" in lines[2] and "waiting for the next close" in lines[2]
    assert describe_params(ub.ma_crossover(20, 60, "EMA")) == "ma_crossover(EMA 20/60)"
    assert describe_params(ub.bollinger_bands(20, 2)) == "bollinger_bands(20/2.0)"


def test_watch_indicators_and_announcements_connect_to_a_served_fake(tmp_path) -> None:  # noqa: ANN001
    from cli_helpers import run_cli, serve

    from upbit_stream.testing import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY

    keys = {"UPBIT_ACCESS_KEY": DEFAULT_ACCESS_KEY, "UPBIT_SECRET_KEY": DEFAULT_SECRET_KEY}
    with serve(cwd=tmp_path) as url:
        table = run_cli("watch", "indicators", "KRW-BTC", "--rsi", "14", "--macd", "12/26/9", "--url", url,
                        "--seconds", "2", cwd=tmp_path, **keys)
        assert table.returncode == 0, table.stderr
        rows = [line.split() for line in table.stdout.split("\n\n")[-2].splitlines()]
        assert rows[2][:3] == ["KRW-BTC", "rsi(14)", "waiting"] and rows[3][:2] == ["KRW-BTC", "macd(12/26/9)"]
        assert "5m candles; 0 values received" in table.stdout and "healthy" in table.stdout
        notices = run_cli("watch", "announcements", "--category", "trade", "--url", url, "--seconds", "2",
                          cwd=tmp_path, **keys)
        assert notices.returncode == 0, notices.stderr
        assert "waiting for announcements (trade)" in notices.stdout
        no_keys = run_cli("watch", "announcements", "--url", url, "--seconds", "2", cwd=tmp_path)
        assert no_keys.returncode == 1 and "UPBIT_ACCESS_KEY" in no_keys.stderr


def test_record_takes_indicator_targets_with_the_indicator_options() -> None:
    args = build_parser().parse_args(["record", "indicator.15m:KRW-BTC,KRW-ETH", "announcement:trade", "-o", "x.jsonl",
                                      "--rsi", "14", "--macd", "12/26/9"])
    specs = parse_targets(args.targets, indicators=indicator_options(args))
    assert specs == (ub.indicator(["KRW-BTC", "KRW-ETH"], "15m", [ub.rsi(14), ub.macd()]), ub.announcement("trade"))
    assert parse_targets(["indicator.1d:KRW-XRP"]) == (ub.indicator("KRW-XRP", "1d", ub.rsi(14)),)
    with pytest.raises(ValueError, match="KRW markets only"):
        parse_targets(["indicator.5m:BTC-ETH"])
    with pytest.raises(ValueError, match="unknown type 'indicator.1m'"):
        parse_targets(["indicator.1m:KRW-BTC"])


@pytest.mark.trio
async def test_connection_changes_go_to_stderr_when_the_view_is_piped(capsys: pytest.CaptureFixture[str]) -> None:
    import trio

    from upbit_stream._cli.watch_tape import watch_trades
    from upbit_stream.testing import open_fake_upbit

    async with open_fake_upbit(seed=2, rate=200) as fake:
        settings = ub.Settings().evolve(connection={"public_url": fake.public_url},
                                        reconnect={"initial_delay": 0.1})
        out = io.StringIO()  # not a terminal
        with trio.fail_after(20):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(lambda: watch_trades(["KRW-BTC", "KRW-ETH"], settings, seconds=60, out=out))
                while out.getvalue().count("\n") < 5:
                    await trio.sleep(0.05)
                fake.drop_all()
                told = ""
                while "public reconnected" not in told:
                    await trio.sleep(0.05)
                    told += capsys.readouterr().err
                nursery.cancel_scope.cancel()
    lines = told.splitlines()
    assert lines[0].startswith("upbit-stream watch trade: public disconnected: ") and len(lines) == 2, told
    assert lines[1].startswith("upbit-stream watch trade: public reconnected")
