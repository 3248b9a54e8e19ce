"""The fake exchange's control line protocol, pure: one text line in, one validated ``Command`` out."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs

from .._core.indicators import (
    INDICATOR_CLASSES,
    TIMEFRAMES,
    IndicatorParams,
    IndicatorValue,
    bollinger_bands,
    ma_crossover,
    macd,
    moving_average,
    rsi,
    signal,
    volume,
)

__all__ = ["COMMANDS", "MAX_LINE", "Command", "ControlError", "help_lines", "parse_line"]

#: The longest line accepted, in bytes (without its newline); a longer one ends the connection.
MAX_LINE = 65536
ENDPOINTS = ("public", "private", "info", "all")
MAX_TICKS = 10_000
MAX_WAIT = 60.0
_ANNOUNCE_KEYS = ("title", "category", "event_type", "uuid", "url", "body", "body_too_large", "first_listed_at",
                  "listed_at")


class ControlError(ValueError):
    """A line that is not a valid command; its message is what follows ``error`` in the reply."""


@attrs.frozen
class Command:
    """A parsed command: its name, positional arguments and keyword arguments (already typed)."""

    name: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = attrs.field(factory=dict)


Parser = Callable[[list[str], str], Command]


@attrs.frozen
class _Spec:
    usage: str
    what: str
    parse: Parser


# -- value parsers (each raises ControlError saying what it expected) -----------------------------


def _decimal(text: str, what: str = "a number") -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ControlError(f"expected {what}, got {text!r}") from None
    if not value.is_finite():
        raise ControlError(f"expected {what} (finite), got {text!r}")
    return value


def _positive(text: str, what: str = "a number") -> Decimal:
    value = _decimal(text, what)
    if value <= 0:
        raise ControlError(f"expected {what} above 0, got {text!r}")
    return value


def _count(text: str, low: int = 1, high: int = MAX_TICKS) -> int:
    if not text.isdigit() or not low <= int(text) <= high:
        raise ControlError(f"expected a whole number from {low} to {high}, got {text!r}")
    return int(text)


def _seconds(text: str, high: float = 86400.0) -> float:
    value = float(_decimal(text, "a number of seconds"))
    if not 0 <= value <= high:
        raise ControlError(f"expected seconds from 0 to {high:g}, got {text!r}")
    return value


def _endpoint(text: str) -> str | None:
    if text not in ENDPOINTS:
        raise ControlError(f"endpoint must be one of {', '.join(ENDPOINTS)}, got {text!r}")
    return None if text == "all" else text


def _timeframe(text: str) -> str:
    if text not in TIMEFRAMES:
        raise ControlError(f"timeframe must be one of {', '.join(TIMEFRAMES)}, got {text!r}")
    return text


def _arity(words: list[str], low: int, high: int, usage: str) -> None:
    if not low <= len(words) <= high:
        raise ControlError(f"usage: {usage}")


def _ints(parts: list[str], count: int) -> list[int]:
    if len(parts) != count or not all(p.isdigit() for p in parts):
        raise ValueError(f"expected {count} whole number(s), got {'/'.join(parts)!r}")
    return [int(p) for p in parts]


def _cross(parts: list[str]) -> IndicatorParams:
    kind = parts[0].upper() if len(parts) == 3 else "SMA"
    if kind not in ("SMA", "EMA"):
        raise ValueError(f"a crossover is SMA or EMA, got {kind!r}")
    short, long = _ints(parts[-2:], 2) if len(parts) <= 3 else _ints(parts, 2)
    return ma_crossover(short, long, "EMA" if kind == "EMA" else "SMA")


def _bands(parts: list[str]) -> IndicatorParams:
    if len(parts) != 2:
        raise ValueError("expected PERIODxMULTIPLIER, like 20x2.0")
    return bollinger_bands(_ints(parts[:1], 1)[0], parts[1])


_INDICATORS: dict[str, Callable[[list[str]], IndicatorParams]] = {
    "rsi": lambda p: rsi(_ints(p, 1)[0]),
    "volume": lambda p: volume(_ints(p, 1)[0]),
    "sma": lambda p: moving_average(_ints(p, 1)[0]),
    "ema": lambda p: moving_average(_ints(p, 1)[0], "EMA"),
    "bollinger": _bands,
    "cross": _cross,
    "macd": lambda p: macd(*_ints(p, 3)),
}
_INDICATOR_HELP = "rsi:14, volume:20, sma:20, ema:20, bollinger:20x2.0, cross:5/20, cross:EMA:20/60, macd:12/26/9"


def parse_indicator(text: str) -> IndicatorParams:
    """``rsi:14`` → ``rsi(14)``; the forms are listed in ``help``."""
    name, _, rest = text.partition(":")
    build = _INDICATORS.get(name.lower())
    if build is None or not rest:
        raise ControlError(f"indicator must look like {_INDICATOR_HELP}: got {text!r}")
    parts = rest.replace("x", "/").replace(":", "/").split("/")
    try:
        return build(parts)
    except (ValueError, TypeError, IndexError) as exc:
        raise ControlError(f"bad indicator {text!r}: {exc}") from None


def parse_value(params: IndicatorParams, words: list[str]) -> IndicatorValue:
    """``FIELD=NUMBER`` words → the value class of ``params`` (every field, none other)."""
    cls = INDICATOR_CLASSES[params.indicator][1]
    names = [field.name for field in attrs.fields(cls)]
    given: dict[str, Decimal] = {}
    for word in words:
        key, sep, number = word.partition("=")
        if not sep or key not in names:
            raise ControlError(f"a {params.indicator} value takes {' '.join(n + '=N' for n in names)}: got {word!r}")
        given[key] = _decimal(number)
    if set(given) != set(names):
        raise ControlError(f"a {params.indicator} value needs {' '.join(n + '=N' for n in names)}")
    value: IndicatorValue = cls(**given)
    return value


# -- the commands -----------------------------------------------------------------------------------


def _place(words: list[str], rest: str) -> Command:
    usage = "place CODE bid|ask limit PRICE VOLUME [IDENTIFIER] | place CODE bid price TOTAL | place CODE ask market VOLUME"
    if len(words) < 3:
        raise ControlError(f"usage: {usage}")
    code, side, ord_type, *numbers = words
    if side not in ("bid", "ask"):
        raise ControlError(f"side must be bid or ask, got {side!r}")
    wanted = {"limit": 2, "price": 1, "market": 1}.get(ord_type)
    if wanted is None:
        raise ControlError(f"order type must be limit, price or market, got {ord_type!r}")
    _arity(numbers, wanted, wanted + 1, usage)
    identifier = numbers[wanted] if len(numbers) > wanted else None
    values = [_positive(n) for n in numbers[:wanted]]
    price, volume_ = (values[0], values[1]) if ord_type == "limit" else \
        (values[0], None) if ord_type == "price" else (None, values[0])
    return Command("place", (code, side, ord_type), {"price": price, "volume": volume_, "identifier": identifier})


def _fill(words: list[str], rest: str) -> Command:
    _arity(words, 1, 3, "fill UUID [VOLUME [PRICE]]")
    numbers = [_positive(n) for n in words[1:]]
    return Command("fill", (words[0],), {"volume": numbers[0] if numbers else None,
                                         "price": numbers[1] if len(numbers) > 1 else None})


def _one_word(name: str, usage: str) -> Parser:
    def parse(words: list[str], rest: str) -> Command:
        _arity(words, 1, 1, usage)
        return Command(name, (words[0],))
    return parse


def _deposit(words: list[str], rest: str) -> Command:
    _arity(words, 2, 2, "deposit CURRENCY AMOUNT")
    return Command("deposit", (words[0], _positive(words[1], "an amount")))


def _announce(words: list[str], rest: str) -> Command:
    usage = 'announce CATEGORY TITLE... | announce {"title": ..., "category": ..., "body": ...}'
    text = rest.strip()
    if text.startswith("{"):
        try:
            options = json.loads(text)
        except ValueError as exc:
            raise ControlError(f"not a JSON object: {exc}") from None
        if not isinstance(options, dict) or not isinstance(options.get("title"), str):
            raise ControlError('the JSON object needs a "title" string')
        unknown = sorted(set(options) - set(_ANNOUNCE_KEYS))
        if unknown:
            raise ControlError(f"unknown keys {', '.join(unknown)}: known are {', '.join(_ANNOUNCE_KEYS)}")
        title = options.pop("title")
        return Command("announce", (title, options.pop("category", "trade")), options)
    category, _, title = text.partition(" ")
    if not category or not title.strip():
        raise ControlError(f"usage: {usage}")
    return Command("announce", (title.strip(), category))


def _tick(words: list[str], rest: str) -> Command:
    _arity(words, 0, 2, "tick [N] [CODE]")
    count = 1
    if words and words[0].isdigit():
        count, words = _count(words[0]), words[1:]
    if len(words) > 1 or (words and words[0].isdigit()):
        raise ControlError("usage: tick [N] [CODE]")
    return Command("tick", (count, words[0] if words else None))


def _drop(words: list[str], rest: str) -> Command:
    _arity(words, 0, 1, "drop [ENDPOINT]")
    return Command("drop", (_endpoint(words[0]) if words else None,))


def _stall(words: list[str], rest: str) -> Command:
    _arity(words, 0, 2, "stall [SECONDS|forever] [ENDPOINT]")
    seconds: float | None = None
    endpoint = None
    for word in words:
        if word in ENDPOINTS:
            endpoint = _endpoint(word)
        elif word != "forever":
            seconds = _seconds(word)
    return Command("stall", (seconds, endpoint))


def _no_words(name: str) -> Parser:
    def parse(words: list[str], rest: str) -> Command:
        _arity(words, 0, 0, name)
        return Command(name)
    return parse


def _refuse_handshakes(words: list[str], rest: str) -> Command:
    _arity(words, 1, 2, "refuse-handshakes N [STATUS]")
    status = _count(words[1], 400, 599) if len(words) > 1 else 429
    return Command("refuse-handshakes", (_count(words[0], 1, 1000), status))


def _refuse_stream(words: list[str], rest: str) -> Command:
    parts = rest.split(None, 3)
    if len(parts) < 2:
        raise ControlError("usage: refuse-stream TYPE CODE [ERROR_NAME [MESSAGE...]]")
    return Command("refuse-stream", (parts[0], parts[1], *(parts[2:3] or ["INVALID_PARAM"]), *(parts[3:] or [""])))


def _delay(words: list[str], rest: str) -> Command:
    _arity(words, 1, 1, "delay SECONDS")
    return Command("delay", (_seconds(words[0], 3600.0),))


def _close_candle(words: list[str], rest: str) -> Command:
    _arity(words, 0, 1, "close-candle [TIMEFRAME]")
    return Command("close-candle", (_timeframe(words[0]) if words else "5m",))


def _indicator(words: list[str], rest: str) -> Command:
    if len(words) < 4:
        raise ControlError("usage: indicator CODE TIMEFRAME INDICATOR FIELD=N...")
    params = parse_indicator(words[2])
    return Command("indicator", (words[0], _timeframe(words[1]), params, parse_value(params, words[3:])))


def _signal(words: list[str], rest: str) -> Command:
    if len(words) < 4:
        raise ControlError("usage: signal CODE TIMEFRAME INDICATOR TRIGGER [threshold=N|multiplier=X] [FIELD=N...]")
    params = parse_indicator(words[2])
    options: dict[str, Any] = {}
    fields = []
    for word in words[4:]:
        key, _, number = word.partition("=")
        if key == "threshold":
            options[key] = _count(number, 0, 100)
        elif key == "multiplier":
            options[key] = _positive(number)
        else:
            fields.append(word)
    try:
        condition = signal(params, words[3], **options)  # type: ignore[arg-type]  # checked there
    except ValueError as exc:
        raise ControlError(str(exc)) from None
    value = parse_value(params, fields) if fields else None
    return Command("signal", (words[0], _timeframe(words[1]), condition, value))


def _inject(name: str) -> Parser:
    def parse(words: list[str], rest: str) -> Command:
        first, _, text = rest.strip().partition(" ")
        endpoint = None
        if first in ENDPOINTS:
            endpoint = _endpoint(first)
        else:
            text = rest.strip()
        if not text:
            raise ControlError(f"usage: {name} [ENDPOINT] TEXT...")
        return Command(name, (text, endpoint))
    return parse


def _wait_request(words: list[str], rest: str) -> Command:
    _arity(words, 1, 2, "wait-request TYPE [SECONDS]")
    return Command("wait-request", (words[0], _seconds(words[1], MAX_WAIT) if len(words) > 1 else 10.0))


COMMANDS: dict[str, _Spec] = {spec.usage.split()[0]: spec for spec in (
    _Spec("help", "list the commands", _no_words("help")),
    _Spec("place CODE bid|ask limit PRICE VOLUME [IDENTIFIER]",
          "an order (also: bid price TOTAL, ask market VOLUME): myOrder wait + myAsset -> ok UUID", _place),
    _Spec("fill UUID [VOLUME [PRICE]]", "fill all or part of an open order: myOrder trade (done), myAsset", _fill),
    _Spec("cancel UUID", "cancel an open order: myOrder cancel, myAsset", _one_word("cancel", "cancel UUID")),
    _Spec("deposit CURRENCY AMOUNT", "credit the account: myAsset", _deposit),
    _Spec("announce CATEGORY TITLE...", 'post a notice (or announce {"title":…,"category":…,"body":…}) -> ok UUID',
          _announce),
    _Spec("tick [N] [CODE]", "N simulated trades now (trade, ticker, orderbook) -> ok N", _tick),
    _Spec("drop [ENDPOINT]", "close TCP sockets without a close frame -> ok CONNECTIONS", _drop),
    _Spec("stall [SECONDS|forever] [ENDPOINT]", "stop reading and writing (sockets kept) -> ok CONNECTIONS", _stall),
    _Spec("resume", "end every stall", _no_words("resume")),
    _Spec("refuse-handshakes N [STATUS]", "refuse the next N handshakes with HTTP STATUS (429)", _refuse_handshakes),
    _Spec("refuse-stream TYPE CODE [ERROR_NAME [MESSAGE...]]", "answer requests for TYPE of CODE with an error",
          _refuse_stream),
    _Spec("delist CODE", "refuse every later request naming CODE", _one_word("delist", "delist CODE")),
    _Spec("delay SECONDS", "hold every data frame SECONDS before sending (0 ends it)", _delay),
    _Spec("close-candle [TIMEFRAME]", "close the indicator candle now (5m) -> ok CANDLE_START_UTC", _close_candle),
    _Spec("indicator CODE TIMEFRAME INDICATOR FIELD=N...", "send a value, e.g. indicator KRW-BTC 5m rsi:14 rsi=71.5",
          _indicator),
    _Spec("signal CODE TIMEFRAME INDICATOR TRIGGER [threshold=N|multiplier=X] [FIELD=N...]",
          "fire a signal, e.g. signal KRW-BTC 5m rsi:14 overbought threshold=70", _signal),
    _Spec("inject [ENDPOINT] TEXT...", "send TEXT as a raw binary frame (UTF-8) -> ok CONNECTIONS", _inject("inject")),
    _Spec("inject-text [ENDPOINT] TEXT...", "send TEXT as a raw text frame -> ok CONNECTIONS", _inject("inject-text")),
    _Spec("connections", "-> ok public=N private=N info=N", _no_words("connections")),
    _Spec("wait-request TYPE [SECONDS]", "wait (10 s) until a request subscribing to TYPE has arrived", _wait_request),
)}


def help_lines() -> list[str]:
    """One line per command: its usage and what it does."""
    return [f"{spec.usage}  -- {spec.what}" for spec in COMMANDS.values()] + [
        f"ENDPOINT: {' | '.join(ENDPOINTS)}; INDICATOR: {_INDICATOR_HELP}"]


def parse_line(line: str) -> Command | None:
    """The command of ``line`` (None for a blank line or a ``#`` comment); ControlError when invalid."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    name, _, rest = text.partition(" ")
    spec = COMMANDS.get(name.lower())
    if spec is None:
        raise ControlError(f"unknown command {name!r} (send help)")
    return spec.parse(rest.split(), rest)
