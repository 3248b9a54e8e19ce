"""announcement, indicator and indicator_signal: decoding the documented examples in every format,
round trips, spec validation of every documented value, and the merged requests and routing."""

from __future__ import annotations

import json
from decimal import Decimal

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import upbit_stream as ub
from upbit_stream._core.demand import SubscriptionBook
from upbit_stream._core.encode import encode_events
from upbit_stream._core.indicators import SIGNAL_RULES, TRIGGERS, VALUE_RULES

# -- the reference's verbatim examples (upbit-new-types.md §5) -----------------------------------

ANNOUNCEMENT = (
    '{"type":"announcement","event_type":"CREATED","uuid":"562593104","title":"[거래] 신규 거래 지원 안내 ...",'
    '"category":"trade","url":"https://www.upbit.com/service_center/notice?id=562593104&view=share",'
    '"first_listed_at":"2026-07-14T16:36:34+09:00","listed_at":"2026-07-14T16:36:34+09:00",'
    '"timestamp":1752566400123,"stream_type":"REALTIME","body":"공지사항 본문 ..."}'
)
RSI = ('{"type":"indicator","code":"KRW-BTC","timeframe":"5m","indicator":"rsi","params":{"period":14},'
       '"candle_date_time_utc":"2026-09-03T04:50:00","value":{"rsi":58.75323648},"timestamp":1788411301095,'
       '"stream_type":"REALTIME"}')
MOVING_AVERAGE = ('{"type":"indicator","code":"KRW-BTC","timeframe":"5m","indicator":"moving_average",'
                  '"params":{"type":"SMA","period":20},"candle_date_time_utc":"2026-09-03T04:50:00",'
                  '"value":{"value":106791950.0},"timestamp":1788411301095,"stream_type":"REALTIME"}')
MACD = ('{"type":"indicator","code":"KRW-BTC","timeframe":"5m","indicator":"macd",'
        '"params":{"fast":12,"slow":26,"signal_period":9},"candle_date_time_utc":"2026-09-03T04:50:00",'
        '"value":{"macd":33554.85769535,"macd_signal":55795.38214693,"histogram":-22240.52445158},'
        '"timestamp":1788411301096,"stream_type":"REALTIME"}')
MACD_SIMPLE = ('{"ty":"indicator","cd":"KRW-BTC","tf":"5m","ind":"macd","p":{"f":12,"s":26,"sgp":9},'
               '"cdttmu":"2026-09-03T04:50:00","v":{"macd":33554.85769535,"macds":55795.38214693,'
               '"hist":-22240.52445158},"tms":1788411301096,"st":"REALTIME"}')
SIGNAL = ('{"type":"indicator_signal","code":"KRW-ARB","timeframe":"5m","indicator":"moving_average",'
          '"params":{"type":"SMA","period":5},"trigger":"price_cross_above","event_params":{},'
          '"candle_date_time_utc":"2026-09-10T07:25:00","value":{"value":202.8},"timestamp":1789025407115,'
          '"stream_type":"REALTIME"}')


def test_the_documented_examples_decode_into_typed_events_with_exact_numbers() -> None:
    [notice] = ub.decode(ANNOUNCEMENT)
    assert isinstance(notice, ub.Announcement)
    assert notice.event_type is ub.AnnouncementEventType.CREATED and notice.category is ub.AnnouncementCategory.TRADE
    assert (notice.uuid, notice.body, notice.timestamp, notice.code) == ("562593104", "공지사항 본문 ...", 1752566400123, "")
    [rsi] = ub.decode(RSI)
    assert isinstance(rsi, ub.Indicator) and rsi.params == ub.rsi(14)
    assert rsi.value == ub.RsiValue(rsi=Decimal("58.75323648"))
    [average] = ub.decode(MOVING_AVERAGE)
    assert average.value == ub.MovingAverageValue(value=Decimal("106791950.0"))  # type: ignore[union-attr]
    assert average.params == ub.moving_average(20, "SMA")  # type: ignore[union-attr]
    [macd] = ub.decode(MACD)
    assert macd.value == ub.MacdValue(macd=Decimal("33554.85769535"), macd_signal=Decimal("55795.38214693"),  # type: ignore[union-attr]
                                      histogram=Decimal("-22240.52445158"))
    assert ub.decode(MACD_SIMPLE) == [macd]
    [signal] = ub.decode(SIGNAL)
    assert isinstance(signal, ub.IndicatorSignal)
    assert (signal.trigger, signal.event_params, signal.value) == (
        "price_cross_above", None, ub.MovingAverageValue(value=Decimal("202.8")))


@pytest.mark.parametrize("frame", [ANNOUNCEMENT, RSI, MOVING_AVERAGE, MACD, SIGNAL])
@pytest.mark.parametrize("fmt", list(ub.Format))
def test_every_format_encodes_and_decodes_to_the_same_event(frame: str, fmt: ub.Format) -> None:
    [event] = ub.decode(frame)
    wire = encode_events([event, event] if fmt.listed else [event], fmt)
    assert ub.decode(wire) == ([event, event] if fmt.listed else [event])
    if fmt is ub.Format.DEFAULT:
        assert json.loads(wire) == json.loads(frame)  # byte-for-byte keys and values as documented


def test_simple_keys_inside_nested_objects_follow_the_reference() -> None:
    volume = ub.IndicatorSignal(code="KRW-BTC", timeframe="5m", indicator="volume", params=ub.volume(20),
                                trigger="volume_spike", event_params=ub.VolumeEventParams(multiplier=Decimal("2.0")),
                                candle_date_time_utc="2026-09-10T07:25:00", timestamp=1,
                                stream_type=ub.StreamType.REALTIME,
                                value=ub.VolumeValue(volume=Decimal(3), avg_volume=Decimal(1), ratio=Decimal(3)))
    simple = json.loads(encode_events([volume], ub.Format.SIMPLE))
    assert simple["p"] == {"p": 20} and simple["ep"] == {"mul": 2.0}
    assert simple["v"] == {"vol": 3, "av": 1, "rto": 3}
    bands = attrs.evolve(volume, indicator="bollinger_bands", params=ub.bollinger_bands(20, "2.0"),
                         trigger="price_cross_above", event_params=None,
                         value=ub.BollingerBandsValue(bb_upper=Decimal(3), bb_middle=Decimal(2), bb_lower=Decimal(1)))
    simple = json.loads(encode_events([bands], ub.Format.SIMPLE))
    assert simple["p"] == {"p": 20, "m": 2.0} and simple["ep"] == {} and simple["v"] == {"bbu": 3, "bbm": 2, "bbl": 1}
    rsi = json.loads(encode_events([attrs.evolve(volume, indicator="rsi", params=ub.rsi(14), trigger="oversold",
                                                 event_params=ub.RsiEventParams(threshold=30),
                                                 value=ub.RsiValue(rsi=Decimal(25)))], ub.Format.SIMPLE))
    assert rsi["ep"] == {"th": 30} and rsi["tr"] == "oversold" and rsi["v"] == {"rsi": 25}
    for event in (volume, bands):
        assert ub.decode(encode_events([event], ub.Format.SIMPLE)) == [event]


def test_an_announcement_without_a_body_omits_the_key_as_upbit_does() -> None:
    [notice] = ub.decode(ANNOUNCEMENT)
    bare = attrs.evolve(notice, body=None)
    assert "body" not in json.loads(encode_events([bare], ub.Format.DEFAULT))
    assert "bd" not in json.loads(encode_events([bare], ub.Format.SIMPLE))
    assert ub.decode(encode_events([bare])) == [bare]
    assert bare.to_dict()["body"] is None and notice.to_dict()["category"] == "trade"


@pytest.mark.parametrize("broken", [
    RSI.replace('"indicator":"rsi"', '"indicator":"stochastic"'),   # an indicator this release does not know
    RSI.replace('"params":{"period":14}', '"params":[14]'),
    RSI.replace('{"rsi":58.75323648}', '{"rsi":"high"}'),
    RSI.replace('{"rsi":58.75323648}', '{}'),                       # a value field missing
    SIGNAL.replace('"event_params":{}', '"event_params":7'),
])
def test_malformed_indicator_frames_are_protocol_errors_naming_the_part(broken: str) -> None:
    with pytest.raises(ub.ProtocolError, match="Indicator"):
        ub.decode(broken)


def test_enum_values_upbit_adds_later_are_kept_as_strings() -> None:
    [notice] = ub.decode(ANNOUNCEMENT.replace('"trade"', '"listing"').replace('"CREATED"', '"DELETED"'))
    assert notice.category == "listing" and notice.event_type == "DELETED"  # type: ignore[union-attr]


_numbers = st.decimals(min_value=-10**12, max_value=10**12, places=8, allow_nan=False, allow_infinity=False)
_values = {
    "volume": st.builds(ub.VolumeValue, volume=_numbers, avg_volume=_numbers, ratio=_numbers),
    "rsi": st.builds(ub.RsiValue, rsi=_numbers),
    "moving_average": st.builds(ub.MovingAverageValue, value=_numbers),
    "ma_crossover": st.builds(ub.MaCrossoverValue, ma_short=_numbers, ma_long=_numbers),
    "bollinger_bands": st.builds(ub.BollingerBandsValue, bb_upper=_numbers, bb_middle=_numbers, bb_lower=_numbers),
    "macd": st.builds(ub.MacdValue, macd=_numbers, macd_signal=_numbers, histogram=_numbers),
}
_params = st.sampled_from([ub.volume(20), ub.rsi(14), ub.moving_average(20, "EMA"), ub.ma_crossover(20, 60),
                           ub.bollinger_bands(20, 2.5), ub.macd(5, 35, 5)])


@st.composite
def _indicator_events(draw: st.DrawFn) -> ub.Indicator:
    params = draw(_params)
    return ub.Indicator(code=draw(st.sampled_from(["KRW-BTC", "KRW-ETH"])), timeframe=draw(st.sampled_from(["5m", "1d"])),
                        indicator=params.indicator, params=params, value=draw(_values[params.indicator]),
                        candle_date_time_utc="2026-09-03T04:50:00", timestamp=draw(st.integers(0, 2**62)),
                        stream_type=ub.StreamType.REALTIME)


@given(st.lists(_indicator_events(), min_size=1, max_size=4), st.sampled_from(list(ub.Format)))
def test_indicator_events_survive_every_format(events: list[ub.Indicator], fmt: ub.Format) -> None:
    if not fmt.listed:
        events = events[:1]
    assert ub.decode(encode_events(events, fmt)) == events


# -- specs ---------------------------------------------------------------------------------------


def test_every_documented_indicator_value_is_accepted_and_its_neighbours_refused() -> None:
    builders = {"volume": lambda p: ub.volume(p), "rsi": lambda p: ub.rsi(p),
                "moving_average": lambda p: ub.moving_average(p)}
    for name, build in builders.items():
        allowed = VALUE_RULES[name]["period"]
        for period in allowed:
            assert build(period).period == period
        for period in set(range(0, 205)) - set(allowed):
            with pytest.raises(ValueError, match=f"{name} period must be one of"):
                build(period)
    for period in (10, 20, 50):
        for multiplier in ("1.0", "1.5", 2, 2.5, Decimal("3.00")):
            assert ub.bollinger_bands(period, multiplier).multiplier == Decimal(str(multiplier)).quantize(Decimal("0.1"))
    for refused in ("0.5", "3.5", 4):
        with pytest.raises(ValueError, match="multiplier must be one of"):
            ub.bollinger_bands(20, refused)
    with pytest.raises(ValueError, match="one decimal place"):
        ub.bollinger_bands(20, "2.04")  # Upbit does not round
    for short, long in ((5, 20), (20, 60), (30, 90), (50, 200)):
        assert ub.ma_crossover(short, long, "EMA").long_period == long
    with pytest.raises(ValueError, match="5/20, 20/60, 30/90, 50/200"):
        ub.ma_crossover(5, 60)
    for triple in ((12, 26, 9), (8, 17, 9), (5, 35, 5)):
        assert ub.macd(*triple) == ub.MacdParams(fast=triple[0], slow=triple[1], signal_period=triple[2])
    with pytest.raises(ValueError, match="12/26/9, 8/17/9, 5/35/5"):
        ub.macd(12, 26, 5)
    with pytest.raises(ValueError, match="type must be one of SMA, EMA"):
        ub.moving_average(20, "WMA")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="period must be an int"):
        ub.rsi(14.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="period must be an int"):
        ub.rsi(True)


def test_signal_conditions_use_the_narrower_signal_sets_and_each_triggers_parameters() -> None:
    assert SIGNAL_RULES["volume"]["period"] == (10, 20, 50)
    with pytest.raises(ValueError, match=r"volume period must be one of 10, 20, 50: got 5 \(indicator_signal allows"):
        ub.signal(ub.volume(5), "volume_spike", multiplier=2)
    for multiplier in (2, "3.0", 5.0):
        assert ub.signal(ub.volume(20), "volume_spike", multiplier=multiplier).event_params is not None
    with pytest.raises(ValueError, match="multiplier must be one of 2.0, 3.0, 5.0"):
        ub.signal(ub.volume(20), "volume_spike", multiplier=4)
    with pytest.raises(ValueError, match=r"needs multiplier="):
        ub.signal(ub.volume(20), "volume_spike")
    for trigger, thresholds in (("overbought", (70, 80)), ("oversold", (20, 30))):
        for threshold in thresholds:
            assert ub.signal(ub.rsi(14), trigger, threshold=threshold).event_params == ub.RsiEventParams(threshold=threshold)
        with pytest.raises(ValueError, match=f"{trigger} threshold must be one of"):
            ub.signal(ub.rsi(14), trigger, threshold=50)
    with pytest.raises(ValueError, match="rsi period must be one of 7, 9, 14, 21, 25"):
        ub.signal(ub.rsi(2), "overbought", threshold=70)
    with pytest.raises(ValueError, match="bollinger_bands period must be one of 20"):
        ub.signal(ub.bollinger_bands(10), "price_cross_above")
    with pytest.raises(ValueError, match="multiplier must be one of 1.5, 2.0, 2.5"):
        ub.signal(ub.bollinger_bands(20, 3), "price_cross_above")
    for name, triggers in TRIGGERS.items():
        params = {"volume": ub.volume(20), "rsi": ub.rsi(14), "moving_average": ub.moving_average(20),
                  "ma_crossover": ub.ma_crossover(), "bollinger_bands": ub.bollinger_bands(), "macd": ub.macd()}[name]
        for trigger, needs in triggers.items():
            if needs is None:
                assert ub.signal(params, trigger).event_params is None  # type: ignore[arg-type]
                with pytest.raises(ValueError, match="takes no threshold or multiplier"):
                    ub.signal(params, trigger, threshold=70)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=f"{name} triggers are"):
            ub.signal(params, "moon")  # type: ignore[arg-type]


def test_indicator_specs_check_codes_timeframe_combinations_and_realtime_only() -> None:
    spec = ub.indicator(["KRW-ETH", "KRW-BTC", "KRW-ETH"], "5m", [ub.rsi(14), ub.macd(), ub.rsi(14)])
    assert spec.codes == ("KRW-BTC", "KRW-ETH") and spec.indicators == (ub.rsi(14), ub.macd())
    assert (spec.endpoint, spec.mode, spec.combinations) == ("info", "realtime", 4)
    assert ub.indicator("KRW-BTC", "1d", ub.rsi()).indicators == (ub.rsi(),)
    with pytest.raises(ValueError, match="timeframe must be one of 5m, 15m, 60m, 240m, 1d"):
        ub.indicator("KRW-BTC", "1m", ub.rsi())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="KRW markets only, not BTC-ETH"):
        ub.indicator(["KRW-BTC", "BTC-ETH"], "5m", ub.rsi())
    with pytest.raises(ValueError, match="at least one indicator"):
        ub.indicator("KRW-BTC", "5m", [])
    codes = [f"KRW-C{i}" for i in range(51)]
    assert ub.indicator(codes[:50], "5m", [ub.rsi(), ub.macd()]).combinations == 100
    with pytest.raises(ValueError, match="51 codes x 2 indicators = 102 combinations; Upbit accepts at most 100"):
        ub.indicator(codes, "5m", [ub.rsi(), ub.macd()])
    with pytest.raises(ValueError, match="not an indicator"):
        ub.indicator("KRW-BTC", "5m", [ub.signal(ub.rsi(14), "overbought", threshold=70)])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="not a signal condition"):
        ub.indicator_signal("KRW-BTC", "5m", [ub.rsi(14)])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="realtime only"):
        attrs.evolve(spec, mode="both")
    with pytest.raises(ValueError, match="not a valid Spec"):
        ub.Spec("indicator", ("KRW-BTC",), "realtime", timeframe="5m", indicators=(ub.RsiParams(period=15),))


def test_announcement_specs_take_known_categories_only() -> None:
    assert ub.announcement().categories is None and ub.announcement().endpoint == "private"
    spec = ub.announcement(["wallet", "trade", "trade"], include_body=True)
    assert spec.categories == ("trade", "wallet") and spec.include_body and spec.mode == "realtime"
    assert ub.announcement("trading").categories == ("trading",)  # in the official SDK's set
    with pytest.raises(ValueError, match="unknown announcement category 'listing': choose from notice, trade"):
        ub.announcement(["trade", "listing"])
    with pytest.raises(ValueError, match="categories is empty"):
        ub.announcement([])
    with pytest.raises(TypeError, match="include_body must be True or False"):
        ub.announcement(include_body="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="realtime only"):
        attrs.evolve(spec, mode="snapshot")
    with pytest.raises(ValueError, match="do not apply to ticker"):
        attrs.evolve(ub.ticker("KRW-BTC"), include_body=True)


# -- requests and routing ----------------------------------------------------------------------


def test_merged_requests_ask_for_exactly_the_wanted_combinations() -> None:
    book = SubscriptionBook()
    book.add([ub.indicator(["KRW-BTC", "KRW-ETH"], "5m", [ub.rsi(14), ub.macd()])])
    book.add([ub.indicator("KRW-BTC", "5m", ub.volume(20)),
              ub.indicator_signal("KRW-XRP", "1d", ub.signal(ub.rsi(14), "overbought", threshold=70))])
    objects = [o for o in book.request_objects() if o["type"].startswith("indicator")]
    assert sum(len(o["codes"]) * len(o["indicators"]) for o in objects) == 2 * 2 + 1 + 1
    assert {"type": "indicator_signal", "codes": ["KRW-XRP"], "timeframe": "1d", "indicators": [
        {"type": "rsi", "params": {"period": 14}, "trigger": "overbought", "event_params": {"threshold": 70}}]} in objects
    assert all("is_only_realtime" not in o and "is_only_snapshot" not in o for o in book.request_objects())
    before = book.live_signature()
    book.add([ub.indicator("KRW-BTC", "5m", ub.rsi(14))])  # nothing new to ask for
    assert book.live_signature() == before


def test_announcements_merge_categories_and_the_body_reaches_only_who_asked() -> None:
    book = SubscriptionBook()
    trade_only = book.add([ub.announcement("trade")], "trade-only")
    book.add([ub.announcement(["wallet"], include_body=True)], "wallet-with-body")
    assert book.request_objects() == [{"type": "announcement", "categories": ["trade", "wallet"], "include_body": True}]
    [notice] = ub.decode(ANNOUNCEMENT)
    assert book.route(notice) == ([("trade-only", attrs.evolve(notice, body=None))], [])
    everyone = book.add([ub.announcement(include_body=True)], "all")
    assert book.request_objects() == [{"type": "announcement", "include_body": True}]
    assert sorted(target for target, _ in book.route(notice)[0]) == ["all", "trade-only"]
    wallet = attrs.evolve(notice, category=ub.AnnouncementCategory.WALLET)
    assert sorted(book.route(wallet)[0]) == [("all", wallet), ("wallet-with-body", wallet)]
    book.remove(everyone)
    book.remove(trade_only)
    assert book.request_objects() == [{"type": "announcement", "categories": ["wallet"], "include_body": True}]


def test_indicator_events_reach_only_subscribers_of_their_timeframe_and_params() -> None:
    book = SubscriptionBook()
    book.add([ub.indicator("KRW-BTC", "5m", ub.rsi(14))], "rsi14")
    book.add([ub.indicator("KRW-BTC", "15m", ub.rsi(14))], "rsi14-15m")
    book.add([ub.indicator_signal("KRW-ARB", "5m", ub.signal(ub.moving_average(5), "price_cross_above"))], "cross")
    [rsi] = ub.decode(RSI)
    assert book.route(rsi)[0] == [("rsi14", rsi)]
    assert book.route(attrs.evolve(rsi, params=ub.rsi(21)))[0] == []
    [signal] = ub.decode(SIGNAL)
    assert book.route(signal)[0] == [("cross", signal)]
    assert book.route(attrs.evolve(signal, trigger="price_cross_below"))[0] == []
