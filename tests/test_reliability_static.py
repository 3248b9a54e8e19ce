"""R8: no unbounded buffering anywhere in upbit_stream/ (an AST check), and no unbounded channel by argument."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest
import trio

import upbit_stream as ub
from upbit_stream.testing import FakeUpbit

from session_helpers import memory_connector, settings_for

PACKAGE = Path(ub.__file__).parent
#: An unbounded-looking buffer is allowed only with this comment on its line, saying what bounds it.
JUSTIFIED = "# bounded:"
_QUEUES = {"Queue", "LifoQueue", "PriorityQueue", "SimpleQueue"}


def _name(node: ast.AST) -> str:
    """``a.b.c`` for a Name/Attribute chain (subscripts such as ``f[T]`` dropped), else ``""``."""
    if isinstance(node, ast.Subscript):
        return _name(node.value)
    if isinstance(node, ast.Attribute):
        return f"{_name(node.value)}.{node.attr}"
    return node.id if isinstance(node, ast.Name) else ""


def _infinite(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, float) and math.isinf(node.value)
    if _name(node).rpartition(".")[2] == "inf":  # math.inf, numpy.inf, inf
        return True
    return (isinstance(node, ast.Call) and _name(node.func) == "float" and len(node.args) == 1
            and isinstance(node.args[0], ast.Constant) and str(node.args[0].value).strip().lower().lstrip("+-")
            in ("inf", "infinity"))


def unbounded_buffers(source: str) -> list[tuple[int, str]]:
    """``(line, what)`` for every unbounded buffer in ``source`` not justified on its line."""
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = _name(node.func).rpartition(".")[2]
        keywords = {k.arg for k in node.keywords}
        what = None
        if func == "open_memory_channel":
            size = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "max_buffer_size"), None)
            if size is None or _infinite(size):
                what = "open_memory_channel without a finite size"
        elif func == "deque" and len(node.args) < 2 and "maxlen" not in keywords:
            what = "deque without maxlen"
        elif func in _QUEUES and not node.args and "maxsize" not in keywords:
            what = f"{func} without maxsize"
        elif func in ("pop", "insert") and node.args and isinstance(node.args[0], ast.Constant) \
                and node.args[0].value == 0 and isinstance(node.func, ast.Attribute):
            what = f"list used as a queue (.{func}(0))"
        if what and JUSTIFIED not in lines[node.lineno - 1]:
            found.append((node.lineno, what))
    return found


def test_the_checker_finds_each_kind_of_unbounded_buffer():
    planted = """
import math, collections, queue, trio
a = trio.open_memory_channel(math.inf)
b = trio.open_memory_channel[int](float("inf"))
c = trio.open_memory_channel(max_buffer_size=float("Infinity"))
d = collections.deque()
e = queue.Queue()
items.pop(0)
items.insert(0, x)
ok1 = trio.open_memory_channel(16)
ok2 = collections.deque(maxlen=8)
ok3 = collections.deque([], 8)
ok4 = queue.Queue(maxsize=4)
ok5 = items.pop()
ok6 = deque()  # bounded: pruned to one second
"""
    assert [line for line, _ in unbounded_buffers(planted)] == [3, 4, 5, 6, 7, 8, 9]


def test_no_unbounded_buffers_in_the_package():
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 30  # the library and its fake exchange
    found = [f"{path.relative_to(PACKAGE.parent)}:{line}: {what}"
             for path in files for line, what in unbounded_buffers(path.read_text(encoding="utf-8"))]
    assert found == []


@pytest.mark.parametrize("buffer", [math.inf, 0, -1, 2.5, True])
async def test_channels_cannot_be_made_unbounded_by_argument(fake: FakeUpbit, buffer):
    async with ub.open_upbit_session(config=settings_for(fake), connector=memory_connector(fake)) as s:
        with pytest.raises(ValueError, match="buffer must be an int >= 1"):
            async with s.ticker("KRW-BTC", buffer=buffer):
                pass
        with pytest.raises(ValueError, match="buffer must be an int >= 1"):
            async with s.connection_events(buffer=buffer):
                pass


async def test_churn_while_nothing_can_be_sent_piles_nothing_up(fake: FakeUpbit, autojump_clock):
    fake.refuse_handshakes(1, 418)  # the connection cools down for 600 s: no request goes out
    async with ub.open_upbit_session(config=settings_for(fake), connector=memory_connector(fake)) as s:
        async with s.ticker("KRW-BTC"):
            for _ in range(1000):
                async with s.ticker("KRW-ETH"):
                    await trio.sleep(0.01)
            protocol = s._drivers["public"].protocol  # white box: what waits to be requested
            assert len(protocol.book) == 1 and not protocol.admission.queue


async def test_unanswered_list_subscriptions_leave_nothing_behind(fake: FakeUpbit, autojump_clock):
    async with ub.open_upbit_session(config=settings_for(fake), connector=memory_connector(fake)) as s:
        async with s.ticker("KRW-BTC") as tickers:
            await tickers.receive()
            fake.stall()
            for _ in range(20):
                with pytest.raises(ub.UpbitStreamError, match="no answer to LIST_SUBSCRIPTIONS"):
                    await s.list_subscriptions(timeout=0.5)
            driver = s._drivers["public"]  # white box: the waiting callers
            assert driver._answered == {} and driver._answers == {} and not driver.protocol._queries.wanted
