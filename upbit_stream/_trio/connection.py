"""``EndpointDriver``: runs one endpoint's connection for its ``EndpointProtocol`` — the only code here that awaits.

The protocol decides everything (what to send and when, whom to deliver to, when a connection
is dead); the driver connects, reads, writes, pings, sleeps until the protocol's next deadline,
and hands deliveries and notices to subscription channels, connection-event watchers and the log.
Three tasks per open connection: the reader (never blocks on a subscriber), the control task
(sends, pings, deadlines) and a short ping task per ping.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import trio

from .._core.classify import Failure, Recovery, describe_failure
from .._core.codec import SubscriptionList
from .._core.demand import Subscriber
from .._core.errors import ConnectError, UpbitStreamError
from .._core.outputs import Deliver, End, Fail, Finish, Note, Ping, QueryAnswer, Send
from .._core.policies import ConnectGate
from .._core.protocol import ConnectionState, EndpointProtocol
from .._core.specs import Spec
from .._core.stats import ConnectionEvent
from .._transports.seam import Connector, Wire

__all__ = ["CLOSE_BOUND", "EndpointDriver"]

log = logging.getLogger("upbit_stream")

#: Time a connector gets beyond ``connection.connect_timeout`` before its attempt is abandoned.
CONNECT_GRACE = 1.0
#: Longest a polite close may take when the session ends.
CLOSE_BOUND = 1.0
#: Most frames the reader takes in one step when several are already waiting.
MAX_BATCH = 64
#: Longest the reader waits after a batch for ``"strict"`` subscribers more than half full to catch up.
CATCH_UP_LIMIT = 0.002


class EndpointDriver:
    """The connection of one endpoint: a reconnect loop spawned with the first subscription."""

    def __init__(self, protocol: EndpointProtocol, url: str, connector: Connector, gate: ConnectGate,
                 headers: Callable[[], Sequence[tuple[str, str]]], emit: Callable[[ConnectionEvent], None],
                 spawn: Callable[..., None], *, connect_timeout: float) -> None:
        self.protocol = protocol
        self.url = url
        self._connector = connector
        self._gate = gate
        self._headers = headers
        self._emit = emit
        self._spawn = spawn
        self._connect_limit = connect_timeout + CONNECT_GRACE
        self._wake = trio.Event()
        self._running = False
        self._closing = False
        self._closed = trio.Event()
        self._answers: dict[int, SubscriptionList | UpbitStreamError] = {}
        self._answered: dict[int, trio.Event] = {}
        self._batch = (-1, 1)  # (book.changes, frames per batch)
        self._strict: tuple[Any, ...] = ()  # strict subscribers' channels, as of self._batch[0]

    # -- called by the session (synchronous) -------------------------------------------------

    def subscribe(self, specs: Sequence[Spec[Any]], channel: Any, *, gaps: bool) -> Subscriber:
        """Route ``specs`` to ``channel``; opens the connection if needed."""
        handle = self.protocol.subscribe(specs, channel, trio.current_time(), gaps=gaps)
        self._react()
        if not self._running and not self._closing:
            self._running = True
            self._spawn(self._run)
        return handle

    def unsubscribe(self, handle: Subscriber) -> None:
        """Stop routing to ``handle``; the next request leaves its streams out."""
        self.protocol.unsubscribe(handle, trio.current_time())
        self._react()

    def _react(self) -> None:
        """Pass on what the protocol produced, and wake the control task if it must look."""
        for notice in self.protocol.take_notices():
            kind = notice.__class__
            if kind is Deliver:
                notice.target._deliver(notice.item)  # type: ignore[union-attr]
            elif kind is Fail:
                notice.target._fail(notice.error)  # type: ignore[union-attr]
            elif kind is Finish:
                notice.target._finish()  # type: ignore[union-attr]
            elif kind is QueryAnswer:
                self._answers[notice.query] = notice.result  # type: ignore[union-attr]
                answered = self._answered.get(notice.query)  # type: ignore[union-attr]
                if answered is not None:
                    answered.set()
            elif kind is Note:
                log.log(notice.level, "%s", notice.message)  # type: ignore[union-attr]
            else:
                self._emit(notice)  # type: ignore[arg-type]
        if self.protocol.attention:
            self._wake.set()

    # -- the reconnect loop ------------------------------------------------------------------

    async def _run(self) -> None:
        protocol = self.protocol
        try:
            while not self._closing:
                now = trio.current_time()
                at = protocol.next_attempt_at(now)
                if at is None or at > now:
                    self._wake = trio.Event()
                    with trio.move_on_at(math.inf if at is None else at):
                        await self._wake.wait()
                    continue
                if not self._gate.try_attempt(now):
                    continue  # another endpoint took the slot: next_attempt_at knows when the next is free
                protocol.attempt_started(now)
                failure = await self._attempt()
                now, wall = trio.current_time(), time.time()
                if failure is None:
                    protocol.connection_closed(now, wall)
                else:
                    protocol.connection_lost(failure, now, wall)
                self._react()
        finally:
            self._running = False
            self._closed.set()

    async def _attempt(self) -> Failure | None:
        """One connection: connect, serve until it ends; returns why (None: closed politely)."""
        private = self.protocol.endpoint != "public"
        ending: End | None = None
        try:
            with trio.CancelScope(deadline=trio.current_time() + self._connect_limit) as scope:
                async with self._connector(self.url, self._headers()) as wire:
                    scope.deadline = math.inf
                    self.protocol.connection_made(trio.current_time(), time.time())
                    self._react()
                    ending = await self._serve(wire)
                    if ending.abort:
                        scope.cancel()  # leaving the connector cancelled aborts: no handshake with a dead peer
            if ending is None:  # the connect guard fired before the connector gave up by itself
                reason = f"no handshake within {self._connect_limit:g} s"
                return Failure(reason, Recovery.RETRY, ConnectError(reason))
        except Exception as exc:  # noqa: BLE001 - whatever a connector, wire or frame raises ends this attempt only
            return describe_failure(_single(exc), private=private)
        return ending.failure

    async def _serve(self, wire: Wire) -> End:
        """Read and control until the protocol (or the session closing) ends the connection."""
        ended: list[End] = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._control, wire, nursery, ended)
            await self._read(wire)
        return ended[0]

    async def _read(self, wire: Wire) -> None:
        """Hand frames to the protocol: in batches of what already arrived, when the wire offers them."""
        receive_ready = getattr(wire, "receive_ready", None)
        protocol = self.protocol
        while True:
            frames = [await wire.receive()]
            limit = self._batch_limit()
            if receive_ready is not None and limit > 1:
                frames += receive_ready(limit - 1)
            for target, events in protocol.frames_received(frames, trio.current_time(), time.time()).items():
                target._deliver_many(events)
            if protocol.attention or protocol.has_notices:
                self._react()
            if any(target.behind for target in self._strict):
                await self._let_strict_catch_up()

    async def _let_strict_catch_up(self) -> None:
        """Give ``"strict"`` subscribers more than half full up to ``CATCH_UP_LIMIT`` to take their events.

        A strict consumer that keeps up then never loses to the order in which trio runs tasks;
        one that does not keep up costs the others at most this bound per batch until it fails.
        """
        with trio.move_on_after(CATCH_UP_LIMIT):
            for target in self._strict:
                await target._wait_caught_up()

    def _batch_limit(self) -> int:
        """Half the smallest subscriber buffer, at most ``MAX_BATCH``: a batch fits beside what is unread.

        Also keeps ``_strict`` (the strict subscribers' channels) current.
        """
        changes = self.protocol.book.changes
        if self._batch[0] != changes:
            targets = {id(sub.target): sub.target for sub in self.protocol.book.subscribers}.values()
            buffers = (target.buffer // 2 for target in targets)
            self._batch = (changes, max(1, min(MAX_BATCH, min(buffers, default=MAX_BATCH))))
            self._strict = tuple(target for target in targets if target.overflow == "strict")
        return self._batch[1]

    async def _control(self, wire: Wire, nursery: trio.Nursery, ended: list[End]) -> None:
        """Carry out the protocol's commands, sleeping until its next deadline or a wake-up."""
        protocol = self.protocol
        send_limit = protocol.config.pong_timeout
        while True:
            self._wake = trio.Event()
            if self._closing:
                ended.append(End(None, abort=False))
                nursery.cancel_scope.cancel()
                return
            for command in protocol.poll(trio.current_time()):
                if isinstance(command, Send):
                    log.debug("%s request: %s", protocol.endpoint, command.text)
                    with trio.move_on_after(send_limit) as sending:
                        await wire.send(command.text)
                    if sending.cancelled_caught:
                        reason = f"a request could not be sent within {send_limit:g} s"
                        command = End(Failure(reason, Recovery.RETRY, ConnectError(reason)), abort=True)
                if isinstance(command, Ping):
                    nursery.start_soon(self._ping, wire)
                elif isinstance(command, End):
                    ended.append(command)
                    nursery.cancel_scope.cancel()
                    return
            self._react()
            with trio.move_on_at(protocol.next_wakeup(trio.current_time())):
                await self._wake.wait()

    async def _ping(self, wire: Wire) -> None:
        await wire.ping()
        self.protocol.pong_received(trio.current_time())
        self._wake.set()

    # -- on demand ---------------------------------------------------------------------------

    async def list_subscriptions(self, timeout: float) -> SubscriptionList:
        """Ask the server what it streams on this connection (LIST_SUBSCRIPTIONS)."""
        endpoint = self.protocol.endpoint
        if self.protocol.state is not ConnectionState.CONNECTED:
            raise UpbitStreamError(f"the {endpoint} connection is not open: subscribe to something first")
        query = self.protocol.ask_subscriptions()
        answered = self._answered[query] = trio.Event()
        self._react()
        try:
            with trio.move_on_after(timeout):
                await answered.wait()
        finally:
            del self._answered[query]
            result = self._answers.pop(query, None)
            self.protocol.forget_query(query)
        if result is None:
            raise UpbitStreamError(f"no answer to LIST_SUBSCRIPTIONS on the {endpoint} connection within {timeout:g} s")
        if isinstance(result, UpbitStreamError):
            raise result
        return result

    async def aclose(self) -> None:
        """Close the connection politely (a close frame) and stop reconnecting; waits until it is closed."""
        self._closing = True
        self._wake.set()
        if self._running:
            await self._closed.wait()


def _single(exc: BaseException) -> BaseException:
    """The one real error inside nested exception groups (the first, if several)."""
    while isinstance(exc, BaseExceptionGroup):
        real = [e for e in exc.exceptions if not isinstance(e, trio.Cancelled)]
        exc = (real or list(exc.exceptions))[0]
    return exc
