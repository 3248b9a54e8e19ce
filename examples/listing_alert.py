"""Print Upbit's trading announcements (new listings, delistings, warnings) the moment they arrive.

Listing notices move prices within seconds, so this example subscribes to ``announcement``
with ``categories=["trade"]`` and prints each new or updated notice with how long it took from
Upbit's timestamp to this process. Announcements ride the private connection (API keys needed,
with no permission at all); Upbit sends nothing until a notice is published, so a quiet screen
is normal.

With ``--fake`` a scripted exchange publishes a listing, a wallet notice (filtered out: not a
trade notice) and an update of the listing.

Run it:
    python examples/listing_alert.py --fake
    UPBIT_ACCESS_KEY=... UPBIT_SECRET_KEY=... python examples/listing_alert.py
"""

from __future__ import annotations

import argparse
import sys
import time

import _common
import trio

import upbit_stream as ub
from upbit_stream.testing import FakeUpbit


def alert_line(notice: ub.Announcement) -> str:
    delay_ms = time.time() * 1000 - notice.timestamp
    kind = "NEW" if notice.event_type == ub.AnnouncementEventType.CREATED else "UPDATED"
    return f"[{kind}] {notice.listed_at}  {notice.title}\n        {notice.url}  (received {delay_ms:,.0f} ms after Upbit)"


async def publish_notices(fake: FakeUpbit) -> None:
    """The fake exchange's side: a listing, a wallet notice, then an update of the listing."""
    await fake.wait_for_request(lambda r: r.endpoint == "private" and r.request is not None)
    await trio.sleep(0.3)
    listing = fake.publish_announcement("[거래] 모의코인(MOCK) 신규 거래지원 안내 (KRW 마켓)", "trade")
    await trio.sleep(0.3)
    fake.publish_announcement("[입출금] 모의코인(MOCK) 입출금 일시 중단 안내", "wallet")
    await trio.sleep(0.3)
    fake.publish_announcement("[거래] 모의코인(MOCK) 신규 거래지원 안내 (거래 시작 시간 변경)", "trade",
                              event_type="UPDATED", uuid=listing.uuid)


async def watch_listings(args: argparse.Namespace) -> None:
    async with _common.open_session(args, rate=0) as (session, fake), trio.open_nursery() as nursery:
        if fake is not None:
            nursery.start_soon(publish_notices, fake)
        print("waiting for trading announcements (listings, delistings, warnings) …")
        async with session.announcement(["trade"]) as notices:
            async for notice in notices:
                print(alert_line(notice))


def main() -> int:
    args = _common.parser(__doc__).parse_args()
    return _common.run(lambda: watch_listings(args), args.seconds)


if __name__ == "__main__":
    sys.exit(main())
