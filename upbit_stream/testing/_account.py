"""The simulated account: orders placed, filled and cancelled by hand, producing myOrder/myAsset events.

Pure and I/O-free. Every operation returns the events it caused, in the order Upbit would send
them: the order's myOrder change first, then one myAsset with the currencies whose balance or
locked amount changed. Fees are 0.05 % of the quote amount (Upbit's KRW market rate).
"""

from __future__ import annotations

import uuid as uuid_mod
from collections.abc import Callable, Mapping
from decimal import Context, Decimal

import attrs

from .._core.enums import AskBid, OrderState, OrderType, StreamType
from .._core.events import Asset, MyAsset, MyOrder
from ._market import PairCode

__all__ = ["Account", "InsufficientFunds", "Order"]

_CTX = Context(prec=60)
FEE_RATE = Decimal("0.0005")
_ZERO = Decimal(0)


class InsufficientFunds(ValueError):
    """The account cannot lock what the order needs."""


@attrs.define
class Order(PairCode):
    """An open or finished order of the simulated account."""

    uuid: str
    code: str
    side: AskBid
    ord_type: OrderType
    price: Decimal | None
    volume: Decimal | None
    created: int
    identifier: str | None = None
    state: OrderState = OrderState.WAIT
    executed_volume: Decimal = _ZERO
    executed_funds: Decimal = _ZERO
    paid_fee: Decimal = _ZERO
    reserved_fee: Decimal = _ZERO
    locked: Decimal = _ZERO
    trades_count: int = 0

    @property
    def remaining_volume(self) -> Decimal | None:
        return None if self.volume is None else self.volume - self.executed_volume


class Account:
    """Balances and orders; ``price_of(code)`` gives the (bid, ask) used for market orders."""

    def __init__(self, balances: Mapping[str, Decimal | int | str] | None = None,
                 price_of: Callable[[str], tuple[Decimal, Decimal]] | None = None) -> None:
        start = {"KRW": "100000000", "BTC": "1", "ETH": "10", "USDT": "10000"} if balances is None else balances
        self.balances: dict[str, Decimal] = {c: Decimal(str(v)) for c, v in start.items()}
        self.locked: dict[str, Decimal] = {c: _ZERO for c in self.balances}
        self.orders: dict[str, Order] = {}
        self.asset_uuid = "fake-asset-0000-0000-0000-000000000000"
        self._price_of = price_of

    # -- operations ---------------------------------------------------------------------------

    def deposit(self, currency: str, amount: Decimal | int | str, now_ms: int) -> list[MyAsset]:
        amount = Decimal(str(amount))
        self._add(currency, amount, _ZERO)
        return [self._asset_event({currency}, now_ms)]

    def place_order(self, code: str, side: AskBid | str, ord_type: OrderType | str, price: Decimal | str | int | None,
                    volume: Decimal | str | int | None, now_ms: int, identifier: str | None = None
                    ) -> tuple[str, list[MyOrder | MyAsset]]:
        side, ord_type = AskBid(str(side).upper()), OrderType(str(ord_type).lower())
        price = None if price is None else Decimal(str(price))
        volume = None if volume is None else Decimal(str(volume))
        wanted = {(OrderType.LIMIT, AskBid.BID): (True, True), (OrderType.LIMIT, AskBid.ASK): (True, True),
                  (OrderType.PRICE, AskBid.BID): (True, False), (OrderType.MARKET, AskBid.ASK): (False, True)}
        if (ord_type, side) not in wanted:
            raise ValueError(f"{ord_type} orders on the {side} side are not simulated")
        for name, value, needed in zip(("price", "volume"), (price, volume), wanted[(ord_type, side)]):
            if needed and (value is None or value <= 0):
                raise ValueError(f"{ord_type} {side} orders need a positive {name}")
            if not needed and value is not None:
                raise ValueError(f"{ord_type} {side} orders take no {name}")
        order = Order(str(uuid_mod.uuid4()), code, side, ord_type, price, volume, now_ms, identifier)
        if side is AskBid.BID:  # limit or price order: a price was checked above
            assert price is not None
            funds = price if volume is None else _CTX.multiply(price, volume)
            order.reserved_fee = _CTX.multiply(funds, FEE_RATE)
            need, currency = _CTX.add(funds, order.reserved_fee), order.quote
        else:  # limit or market sell: a volume was checked above
            assert volume is not None
            need, currency = volume, order.base
            order.reserved_fee = _ZERO if price is None else _CTX.multiply(_CTX.multiply(price, volume), FEE_RATE)
        if self.balances.get(currency, _ZERO) < need:
            raise InsufficientFunds(f"{currency} balance {self.balances.get(currency, _ZERO)} < {need}")
        self._add(currency, -need, need)
        order.locked = need
        self.orders[order.uuid] = order
        events: list[MyOrder | MyAsset] = [self._order_event(order, now_ms), self._asset_event({currency}, now_ms)]
        if ord_type in (OrderType.PRICE, OrderType.MARKET):  # market orders fill at once
            if self._price_of is None:
                raise ValueError("market orders need a price source")
            bid, ask = self._price_of(code)
            trade_price = ask if side is AskBid.BID else bid
            fill_volume = volume if volume is not None else (_CTX.divide(price or _ZERO, trade_price)).quantize(
                Decimal("0.00000001"))
            events += self.fill(order.uuid, now_ms, fill_volume, trade_price, is_maker=False)
        return order.uuid, events

    def fill(self, order_uuid: str, now_ms: int, volume: Decimal | str | int | None = None,
             price: Decimal | str | int | None = None, is_maker: bool = True) -> list[MyOrder | MyAsset]:
        """Fill ``volume`` (default: all that remains) of an open order at ``price`` (default: its price)."""
        order = self._open(order_uuid)
        remaining = order.remaining_volume
        trade_price = Decimal(str(price)) if price is not None else order.price
        if trade_price is None:
            raise ValueError("a price is needed to fill this order")
        if volume is None:
            if remaining is None:  # a market buy by funds: spend what is left
                assert order.price is not None
                volume = _CTX.divide(_CTX.subtract(order.price, order.executed_funds), trade_price).quantize(
                    Decimal("0.00000001"))
            else:
                volume = remaining
        volume = Decimal(str(volume))
        if volume <= 0 or (remaining is not None and volume > remaining):
            raise ValueError(f"cannot fill {volume} of an order with {remaining} remaining")
        funds = _CTX.multiply(trade_price, volume)
        fee = _CTX.multiply(funds, FEE_RATE)
        order.executed_volume = _CTX.add(order.executed_volume, volume)
        order.executed_funds = _CTX.add(order.executed_funds, funds)
        order.paid_fee = _CTX.add(order.paid_fee, fee)
        order.trades_count += 1
        if order.side is AskBid.BID:
            spent = min(_CTX.add(funds, fee), order.locked)
            self._add(order.quote, _ZERO, -spent)
            order.locked -= spent
            self._add(order.base, volume, _ZERO)
        else:
            self._add(order.base, _ZERO, -volume)
            order.locked -= volume
            self._add(order.quote, _CTX.subtract(funds, fee), _ZERO)
        trade_uuid = str(uuid_mod.uuid4())
        events: list[MyOrder | MyAsset] = [self._order_event(order, now_ms, OrderState.TRADE, trade_uuid,
                                                             trade_price, volume, fee, is_maker)]
        finished = (order.remaining_volume == 0) if order.volume is not None else True
        if finished:
            order.state = OrderState.DONE
            if order.locked:  # unused reservation (fee rounding, a cheaper fill) goes back
                currency = order.quote if order.side is AskBid.BID else order.base
                self._add(currency, order.locked, -order.locked)
                order.locked = _ZERO
            events.append(self._order_event(order, now_ms))
        else:
            order.state = OrderState.TRADE
        events.append(self._asset_event({order.quote, order.base}, now_ms))
        return events

    def cancel(self, order_uuid: str, now_ms: int) -> list[MyOrder | MyAsset]:
        order = self._open(order_uuid)
        currency = order.quote if order.side is AskBid.BID else order.base
        self._add(currency, order.locked, -order.locked)
        order.locked = _ZERO
        order.state = OrderState.CANCEL
        return [self._order_event(order, now_ms), self._asset_event({currency}, now_ms)]

    # -- helpers ------------------------------------------------------------------------------

    def _open(self, order_uuid: str) -> Order:
        order = self.orders.get(order_uuid)
        if order is None:
            raise KeyError(f"no order {order_uuid}")
        if order.state not in (OrderState.WAIT, OrderState.TRADE):
            raise ValueError(f"order {order_uuid} is already {order.state}")
        return order

    def _add(self, currency: str, balance: Decimal, locked: Decimal) -> None:
        self.balances[currency] = _CTX.add(self.balances.get(currency, _ZERO), balance)
        self.locked[currency] = _CTX.add(self.locked.get(currency, _ZERO), locked)

    def assets(self, currencies: set[str] | None = None) -> tuple[Asset, ...]:
        names = sorted(self.balances if currencies is None else currencies)
        return tuple(Asset(currency=c, balance=self.balances.get(c, _ZERO), locked=self.locked.get(c, _ZERO))
                     for c in names)

    def _asset_event(self, currencies: set[str], now_ms: int) -> MyAsset:
        return MyAsset(asset_uuid=self.asset_uuid, assets=self.assets(currencies), asset_timestamp=now_ms,
                       timestamp=now_ms, stream_type=StreamType.REALTIME)

    def _order_event(self, order: Order, now_ms: int, state: OrderState | None = None,
                     trade_uuid: str | None = None, trade_price: Decimal | None = None,
                     trade_volume: Decimal | None = None, trade_fee: Decimal | None = None,
                     is_maker: bool | None = None) -> MyOrder:
        trading = state is OrderState.TRADE
        avg = _CTX.divide(order.executed_funds, order.executed_volume) if order.executed_volume else _ZERO
        return MyOrder(
            code=order.code, uuid=order.uuid, ask_bid=order.side, order_type=order.ord_type,
            state=state or order.state, trade_uuid=trade_uuid,
            price=trade_price if trading else order.price, avg_price=avg,
            volume=trade_volume if trading else order.volume, remaining_volume=order.remaining_volume,
            executed_volume=order.executed_volume, trades_count=order.trades_count,
            reserved_fee=order.reserved_fee, remaining_fee=max(order.reserved_fee - order.paid_fee, _ZERO),
            paid_fee=order.paid_fee, locked=order.locked, executed_funds=order.executed_funds,
            time_in_force=None, trade_fee=trade_fee if trading else None, is_maker=is_maker if trading else None,
            identifier=order.identifier, smp_type=None, prevented_volume=_ZERO, prevented_locked=_ZERO,
            trade_timestamp=now_ms if trading else None, order_timestamp=order.created, timestamp=now_ms,
            stream_type=StreamType.REALTIME,
        )
