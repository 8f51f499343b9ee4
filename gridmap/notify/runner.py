"""Notifications in the background of a server process: the scan, the webhook sender, event-stream wake-ups.

Event streams hold no database connection while idle: one LISTEN connection per process hears the NOTIFY the
triggers of migration 0008 send when 通知 are added or read, and wakes only the streams of those users.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from functools import partial

import asyncpg
from sqlalchemy import Engine

from gridmap.db.session import session_scope
from gridmap.notify.scan import BATCH, ScanResult, scan
from gridmap.notify.webhooks import claim, finish, post
from gridmap.settings import Settings

log = logging.getLogger(__name__)
CHANNELS = ("gridmap_notifications", "gridmap_outbox")


def _set(event: asyncio.Event, _conn: object) -> None:
    event.set()


class Notifier:
    """Runs the scan and the sender (when ``settings.notify.enabled``) and wakes streams on NOTIFY."""

    def __init__(self, engine: Engine, settings: Settings, clock: Callable[[], datetime]) -> None:
        self.engine, self.settings, self.clock = engine, settings, clock
        self._streams: dict[int, set[asyncio.Event]] = {}
        self._stop = asyncio.Event()
        self._outbox = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._last_report = 0
        self.listening = asyncio.Event()  # set while the LISTEN connection is up

    async def start(self) -> None:
        """Start the background tasks."""
        self._tasks.append(asyncio.create_task(self._listen()))
        if self.settings.notify.enabled:
            self._tasks += [asyncio.create_task(self._scan_loop()), asyncio.create_task(self._send_loop())]

    async def stop(self) -> None:
        """Stop them: a pass under way may finish (a few seconds at most), then the rest is cancelled."""
        self._stop.set()
        self._outbox.set()
        loop = asyncio.get_running_loop()
        self._tasks = [t for t in self._tasks if t.get_loop() is loop and not t.done()]  # a closed test loop's are gone
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=5)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    @contextmanager
    def subscribe(self, user_id: int) -> Iterator[asyncio.Event]:
        """An event set whenever the user's 通知 change, for as long as the block runs."""
        woken = asyncio.Event()
        self._streams.setdefault(user_id, set()).add(woken)
        try:
            yield woken
        finally:
            streams = self._streams.get(user_id, set())
            streams.discard(woken)
            if not streams:
                self._streams.pop(user_id, None)

    def _wake(self, payload: str) -> None:
        if payload == "*":
            chosen = [e for events in self._streams.values() for e in events]
        else:
            ids = {int(part) for part in payload.split(",") if part.isdigit()}
            chosen = [e for user_id in ids for e in self._streams.get(user_id, ())]
        for event in chosen:
            event.set()

    def _heard(self, _conn: object, _pid: int, channel: str, payload: object) -> None:
        if channel == "gridmap_outbox":
            self._outbox.set()
        else:
            self._wake(str(payload))

    async def _listen(self) -> None:
        dsn = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not self._stop.is_set():
            closed = asyncio.Event()
            try:
                conn = await asyncpg.connect(dsn)
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("notifications: cannot LISTEN (%s); retrying", exc)
                await self._pause(self._stop, 2.0)
                continue
            try:
                conn.add_termination_listener(partial(_set, closed))
                for channel in CHANNELS:
                    await conn.add_listener(channel, self._heard)
                self.listening.set()
                self._wake("*")  # anything missed while not listening
                self._outbox.set()
                waiters = [asyncio.create_task(closed.wait()), asyncio.create_task(self._stop.wait())]
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                for waiter in waiters:
                    waiter.cancel()
            finally:
                self.listening.clear()
                with suppress(Exception):
                    await conn.close(timeout=2)
            await self._pause(self._stop, 1.0)

    @staticmethod
    async def _pause(event: asyncio.Event, seconds: float) -> None:
        with suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)

    def scan_once(self, *, full: bool = True) -> ScanResult:
        """One pass of the scan (a full one looks at every waiting report and the SLA stages)."""
        with session_scope(self.engine) as session:
            after = 0 if full else self._last_report
            result = scan(session, now=self.clock(), settings=self.settings, after=after, stages=full)
        self._last_report = max(self._last_report, result.last_report_id)
        return result

    async def _scan_loop(self) -> None:
        cfg = self.settings.notify
        loop = asyncio.get_running_loop()
        next_full = 0.0
        while not self._stop.is_set():
            full = loop.time() >= next_full
            busy = False
            try:
                result = await asyncio.to_thread(self.scan_once, full=full)
                busy = result.reports >= BATCH  # a burst of reports: go on at once
            except Exception:  # a failed pass is logged and tried again; it must not end the loop
                log.exception("notifications: scan failed")
            if full:
                next_full = loop.time() + cfg.scan_seconds
            if not busy:
                await self._pause(self._stop, cfg.report_seconds)

    async def deliver_once(self) -> int:
        """Send the webhook deliveries due now; how many were tried."""
        jobs = await asyncio.to_thread(claim, self.engine, self.settings)
        if not jobs:
            return 0
        timeout = self.settings.notify.webhook_timeout_seconds
        errors = await asyncio.gather(*(asyncio.to_thread(post, job, timeout) for job in jobs))
        await asyncio.to_thread(finish, self.engine, self.settings, list(zip(jobs, errors, strict=True)))
        return len(jobs)

    async def _send_loop(self) -> None:
        while not self._stop.is_set():
            self._outbox.clear()
            try:
                tried = await self.deliver_once()
            except Exception:  # a receiver's failure is recorded per delivery; this is the database's
                log.exception("notifications: webhook sender failed")
                tried = 0
            if not tried:
                await self._pause(self._outbox, self.settings.notify.outbox_seconds)
