"""Follow your own orders (myOrder) and balances (myAsset) as they change, on one private channel.

Private streams need API keys; the session reads ``UPBIT_ACCESS_KEY`` and ``UPBIT_SECRET_KEY``
from the environment and signs a fresh JWT for every connection. (Without keys the subscription
fails at once with an ``AuthenticationError`` saying how to provide them.) Upbit sends no
snapshot of private types: only changes from now on. Use the REST API for the current state.

With ``--fake`` the fake exchange's test keys are used, and a scripted "other side" deposits
KRW, places a limit buy at the current price (read with ``session.snapshot`` on the same
session), fills it in two parts, then places and cancels a sell — so every kind of event flows.
Without ``--fake`` it only listens: place or cancel an order on Upbit to see events.

Run it:
    python examples/private_account.py --fake
    UPBIT_ACCESS_KEY=... UPBIT_SECRET_KEY=... python examples/private_account.py
"""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal

import _common
import trio

import upbit_stream as ub
from upbit_stream.testing import FakeUpbit, tick_size


def amount(value: Decimal | None) -> str:
    """``284,842.35`` rather than ``284842.3500000``; ``0`` rather than ``0E-8`` (same exact value)."""
    return "-" if value is None else f"{value.normalize():,f}"


def order_line(order: ub.MyOrder) -> str:
    head = f"myOrder {order.code} {order.ask_bid} {order.order_type} {order.state:<6}"
    if order.state is ub.OrderState.TRADE:  # one fill: price and volume are the fill's
        return (f"{head} filled {amount(order.volume)} @ {amount(order.price)} (fee {amount(order.trade_fee)}); "
                f"executed {amount(order.executed_volume)}, remaining {amount(order.remaining_volume)}")
    return (f"{head} {amount(order.volume)} @ {amount(order.price)}; executed {amount(order.executed_volume)}, "
            f"avg price {amount(order.avg_price)}, locked {amount(order.locked)}")


def asset_line(event: ub.MyAsset) -> str:
    return "myAsset " + ", ".join(f"{a.currency} {amount(a.balance)} (locked {amount(a.locked)})" for a in event.assets)


async def play_the_market(session: ub.UpbitSession, fake: FakeUpbit, code: str = "KRW-BTC") -> None:
    """Place and fill orders through the fake exchange's Python API, once our subscription is live."""
    await fake.wait_for_request(lambda r: r.endpoint == "private" and r.request is not None)
    price = (await session.snapshot(ub.ticker(code)))[code].trade_price
    print(f"(fake) {code} trades at {price:,}: deposit KRW, buy 0.002 there, offer 0.001 1 % higher, cancel")
    fake.deposit("KRW", 1_000_000)
    buy = fake.place_order(code, "bid", "limit", price=price, volume=Decimal("0.002"))
    await trio.sleep(0.2)
    fake.fill(buy, volume=Decimal("0.0005"))
    await trio.sleep(0.2)
    fake.fill(buy)  # the rest
    await trio.sleep(0.2)
    tick = tick_size(code, price)
    higher = (price * Decimal("1.01") / tick).to_integral_value() * tick  # on Upbit's price grid
    sell = fake.place_order(code, "ask", "limit", price=higher, volume=Decimal("0.001"))
    await trio.sleep(0.2)
    fake.cancel(sell)


async def follow_account(args: argparse.Namespace) -> None:
    async with (
        _common.open_session(args) as (session, fake),
        # One subscription for both types: one channel, events in the order the server sent them.
        session.subscribe(ub.my_order(), ub.my_asset()) as account,
        trio.open_nursery() as nursery,
    ):
        if fake is not None:
            nursery.start_soon(play_the_market, session, fake)
        else:
            print("listening for your orders and balance changes (place or cancel an order on Upbit) …")
        async for event in account:
            print(order_line(event) if isinstance(event, ub.MyOrder) else asset_line(event))


def main() -> int:
    args = _common.parser(__doc__).parse_args()
    return _common.run(lambda: follow_account(args), args.seconds)


if __name__ == "__main__":
    sys.exit(main())
