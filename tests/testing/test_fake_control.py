"""The control line protocol: parsing (pure), and each command driving a running fake over 127.0.0.1."""

from __future__ import annotations

from decimal import Decimal

import pytest
import trio

import upbit_stream as ub
from upbit_stream.testing import open_fake_upbit
from upbit_stream.testing._control_protocol import COMMANDS, MAX_LINE, ControlError, parse_line
from upbit_stream.testing._control_server import MAX_CONTROL_CONNECTIONS

from ._helpers import connect, recv


class Control:
    """A line client of the control port."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = b""

    async def line(self) -> str:
        with trio.fail_after(5):
            while b"\n" not in self.buffer:
                data = await self.stream.receive_some(65536)
                if not data:
                    raise EOFError(self.buffer)
                self.buffer += data
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode()

    async def send(self, line: str) -> str:
        """Send one command; return its reply's last line (``ok …`` or ``error …``)."""
        await self.stream.send_all(line.encode() + b"\n")
        while True:
            reply = await self.line()
            if not reply.startswith("# "):
                return reply


async def control(port: int) -> Control:
    return Control(await trio.open_tcp_stream("127.0.0.1", port))


# -- parsing (pure) ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("line", "name", "args", "kwargs"), [
    ("place KRW-BTC bid limit 100000000 0.001", "place", ("KRW-BTC", "bid", "limit"),
     {"price": Decimal("100000000"), "volume": Decimal("0.001"), "identifier": None}),
    ("place KRW-BTC bid price 5000 my-id", "place", ("KRW-BTC", "bid", "price"),
     {"price": Decimal(5000), "volume": None, "identifier": "my-id"}),
    ("place KRW-BTC ask market 0.5", "place", ("KRW-BTC", "ask", "market"),
     {"price": None, "volume": Decimal("0.5"), "identifier": None}),
    ("fill abc 0.1", "fill", ("abc",), {"volume": Decimal("0.1"), "price": None}),
    ("  tick  ", "tick", (1, None), {}),
    ("tick 5 KRW-ETH", "tick", (5, "KRW-ETH"), {}),
    ("tick KRW-ETH", "tick", (1, "KRW-ETH"), {}),
    ("stall", "stall", (None, None), {}),
    ("stall 2.5 private", "stall", (2.5, "private"), {}),
    ("drop all", "drop", (None,), {}),
    ("announce trade [거래] 신규 거래 지원 안내", "announce", ("[거래] 신규 거래 지원 안내", "trade"), {}),
    ('announce {"title": "t", "category": "wallet", "body": "b"}', "announce", ("t", "wallet"), {"body": "b"}),
    ("refuse-stream ticker KRW-BTC", "refuse-stream", ("ticker", "KRW-BTC", "INVALID_PARAM", ""), {}),
    ("refuse-stream ticker KRW-BTC NO_SUCH no such market", "refuse-stream",
     ("ticker", "KRW-BTC", "NO_SUCH", "no such market"), {}),
    ("inject private {\"a\": 1}", "inject", ('{"a": 1}', "private"), {}),
    ('inject [{"x": 1}]', "inject", ('[{"x": 1}]', None), {}),
    ("indicator KRW-BTC 5m rsi:14 rsi=71.5", "indicator",
     ("KRW-BTC", "5m", ub.rsi(14), ub.RsiValue(rsi=Decimal("71.5"))), {}),
    ("indicator KRW-BTC 1d cross:EMA:20/60 ma_short=2 ma_long=1", "indicator",
     ("KRW-BTC", "1d", ub.ma_crossover(20, 60, "EMA"), ub.MaCrossoverValue(ma_short=Decimal(2), ma_long=Decimal(1))),
     {}),
    ("signal KRW-BTC 5m rsi:14 overbought threshold=70", "signal",
     ("KRW-BTC", "5m", ub.signal(ub.rsi(14), "overbought", threshold=70), None), {}),
    ("WAIT-REQUEST myOrder 3", "wait-request", ("myOrder", 3.0), {}),
])
def test_lines_parse_to_typed_commands(line, name, args, kwargs):
    command = parse_line(line)
    assert command is not None
    assert (command.name, command.args, command.kwargs) == (name, args, kwargs)


@pytest.mark.parametrize(("line", "message"), [
    ("launch", "unknown command 'launch'"),
    ("place KRW-BTC buy limit 1 1", "side must be bid or ask"),
    ("place KRW-BTC bid stop 1 1", "order type must be limit, price or market"),
    ("place KRW-BTC bid limit 1", "usage: place"),
    ("place KRW-BTC bid limit -1 1", "above 0"),
    ("place KRW-BTC bid limit NaN 1", "(finite)"),
    ("deposit KRW lots", "expected an amount"),
    ("tick 0", "from 1 to 10000"),
    ("tick 1 2", "usage: tick"),
    ("drop somewhere", "endpoint must be one of public, private, info, all"),
    ("stall -1", "seconds from 0"),
    ("refuse-handshakes 2 200", "from 400 to 599"),
    ("close-candle 7m", "timeframe must be one of 5m, 15m, 60m, 240m, 1d"),
    ("indicator KRW-BTC 5m rsi:14 value=3", "a rsi value takes rsi=N"),
    ("indicator KRW-BTC 5m macd:12/26/9 macd=1", "a macd value needs macd=N macd_signal=N histogram=N"),
    ("indicator KRW-BTC 5m kdj:9 k=1", "indicator must look like"),
    ("indicator KRW-BTC 5m rsi:x rsi=1", "bad indicator 'rsi:x'"),
    ("signal KRW-BTC 5m rsi:14 overbought", "threshold"),
    ('announce {"category": "trade"}', 'needs a "title"'),
    ('announce {"title": "t", "colour": 1}', "unknown keys colour"),
    ("announce trade", "usage: announce"),
    ("inject private", "usage: inject"),
    ("wait-request myOrder 600", "seconds from 0 to 60"),
    ("connections now", "usage: connections"),
])
def test_bad_lines_are_refused_with_a_reason(line, message):
    with pytest.raises(ControlError) as refused:
        parse_line(line)
    assert message in str(refused.value)


def test_blank_lines_and_comments_are_no_commands():
    assert parse_line("") is None and parse_line("   \r") is None and parse_line("# a note") is None


# -- the server -----------------------------------------------------------------------------------------


async def test_orders_placed_and_filled_over_the_control_port_reach_private_streams():
    async with open_fake_upbit(rate=0, control_port=0) as fake:
        assert fake.control_port is not None
        ctl = await control(fake.control_port)
        async with connect(fake, private=True) as ws:
            await ws.send_message('[{"ticket":"t"},{"type":"myOrder","codes":["KRW-BTC"]},{"type":"myAsset"}]')
            assert await ctl.send("wait-request myOrder 5") == "ok"
            placed = await ctl.send("place KRW-BTC bid limit 90000000 0.002")
            assert placed.startswith("ok ")
            uuid = placed.split()[1]
            assert await ctl.send(f"fill {uuid}") == "ok"
            frames = [await recv(ws) for _ in range(5)]
            assert [(f["type"], f.get("state")) for f in frames] == [
                ("myOrder", "wait"), ("myAsset", None), ("myOrder", "trade"), ("myOrder", "done"), ("myAsset", None)]
            assert frames[0]["uuid"] == uuid
            assert (await ctl.send(f"cancel {uuid}")).startswith("error order ")
            assert await ctl.send("deposit KRW 1000") == "ok"
            assert (await recv(ws))["type"] == "myAsset"
            assert await ctl.send("connections") == "ok public=0 private=1 info=0"
            assert await ctl.send("inject private {\"hello\":1}") == "ok 1"
            assert await recv(ws) == {"hello": 1}


async def test_market_faults_and_notices_over_the_control_port():
    async with open_fake_upbit(rate=0, control_port=0) as fake:
        ctl = await control(fake.control_port)
        async with connect(fake) as ws:
            await ws.send_message('[{"ticket":"t"},{"type":"trade","codes":["KRW-ETH"],"is_only_realtime":true}]')
            assert await ctl.send("wait-request trade") == "ok"
            assert await ctl.send("tick 3 KRW-ETH") == "ok 3"
            assert [(await recv(ws))["code"] for _ in range(3)] == ["KRW-ETH"] * 3
            assert await ctl.send("tick KRW-NOPE") == "error unknown market 'KRW-NOPE'"
            assert await ctl.send("inject-text public PONG?") == "ok 1"
            with trio.fail_after(5):
                assert await ws.get_message() == "PONG?"
            assert await ctl.send("stall 0.2 public") == "ok 1"
            assert await ctl.send("drop") == "ok 1"
        async with connect(fake, private=True) as ws:
            await ws.send_message('[{"ticket":"t"},{"type":"announcement","include_body":true}]')
            assert await ctl.send("wait-request announcement") == "ok"
            reply = await ctl.send('announce {"title": "[거래] 안내", "category": "trade", "body": "본문"}')
            notice = await recv(ws)
            assert reply == f"ok {notice['uuid']}" and notice["title"] == "[거래] 안내" and notice["body"] == "본문"
        assert await ctl.send("refuse-handshakes 1 503") == "ok"
        assert await ctl.send("delist KRW-XRP") == "ok"
        assert "KRW-XRP" not in fake.codes()
        assert await ctl.send("delay 0") == "ok" and fake.delay_seconds == 0
        assert (await ctl.send("close-candle 15m")).startswith("ok 20")
        assert await ctl.send("wait-request myAsset 0.05") == "error no request for myAsset within 0.05 s"


async def test_indicator_values_and_signals_over_the_control_port():
    async with open_fake_upbit(rate=0, control_port=0) as fake:
        ctl = await control(fake.control_port)
        async with connect(fake, info=True) as ws:
            await ws.send_message('[{"ticket":"t"},{"type":"indicator","codes":["KRW-BTC"],"timeframe":"5m",'
                                  '"indicators":[{"type":"rsi","params":{"period":14}}]},'
                                  '{"type":"indicator_signal","codes":["KRW-BTC"],"timeframe":"5m",'
                                  '"indicators":[{"type":"rsi","params":{"period":14},"trigger":"overbought",'
                                  '"event_params":{"threshold":70}}]}]')
            assert await ctl.send("wait-request indicator 4") == "ok"
            assert await ctl.send("indicator KRW-BTC 5m rsi:14 rsi=71.5") == "ok"
            value = await recv(ws)
            assert value["type"] == "indicator" and value["value"] == {"rsi": 71.5}
            assert await ctl.send("signal KRW-BTC 5m rsi:14 overbought threshold=70 rsi=75") == "ok"
            fired = await recv(ws)
            assert fired["type"] == "indicator_signal" and fired["trigger"] == "overbought"
            assert await ctl.send("signal KRW-XXX 5m rsi:14 overbought threshold=70") == (
                "error the fake computes no indicator for 'KRW-XXX': pass value=")


async def test_help_lists_every_command_and_each_reply_is_one_line():
    async with open_fake_upbit(rate=0, control_port=0) as fake:
        ctl = await control(fake.control_port)
        await ctl.stream.send_all(b"help\n")
        lines = []
        while not (line := await ctl.line()).startswith("ok"):
            lines.append(line)
        assert line == f"ok {len(COMMANDS)} commands"
        assert all(line.startswith("# ") for line in lines)
        assert {line[2:].split()[0] for line in lines[:-1]} == set(COMMANDS)
        await ctl.stream.send_all(b"\n# comment\r\nbogus\n\xff\n")
        assert [await ctl.line() for _ in range(4)] == [
            "ok", "ok", "error unknown command 'bogus' (send help)", "error the line is not UTF-8"]


async def test_an_overlong_line_closes_the_connection_and_connections_are_bounded():
    async with open_fake_upbit(rate=0, control_port=0) as fake:
        ctl = await control(fake.control_port)
        await ctl.stream.send_all(b"inject " + b"x" * (MAX_LINE + 10))
        assert await ctl.line() == f"error line longer than {MAX_LINE} bytes; closing"
        with pytest.raises(EOFError):
            await ctl.line()
        others = [await control(fake.control_port) for _ in range(MAX_CONTROL_CONNECTIONS)]
        assert all([await c.send("resume") == "ok" for c in others])
        extra = await control(fake.control_port)
        assert await extra.line() == f"error too many control connections (at most {MAX_CONTROL_CONNECTIONS})"
        await others[0].stream.aclose()
        await trio.sleep(0.1)
        assert await (await control(fake.control_port)).send("resume") == "ok"


async def test_the_control_port_closes_with_the_fake():
    async with open_fake_upbit(rate=0, control_port=0) as fake:
        port = fake.control_port
        assert await (await control(port)).send("resume") == "ok"
    with pytest.raises(OSError):
        await trio.open_tcp_stream("127.0.0.1", port)
