"""One subscription per web process to the workers' "finished" announcements.

Workers publish ``ee:done:<kind>`` with the finished work's id, and its final status when
they just stored it ("<id> <status>", jobs.notify): a woken event carries it as ``status``
("" when unknown; a waiter then reads the database). Instead of
every waiting request opening its own Redis connection and subscription, a daemon thread
of the process listens once and wakes the requests waiting for that id (a
``threading.Event`` each). While Redis is unreachable, ``connected`` is clear and the
waiting requests read the database every 50 ms instead; the thread reconnects by itself.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import defaultdict

from . import broker
from .models import Job

log = logging.getLogger("explorer.done_listener")


def channel(kind: str) -> str:
    """Where workers announce finished work of ``kind`` (jobs.notify) and waiters listen."""
    return f"ee:done:{kind}"


CHANNELS = tuple(channel(kind) for kind in Job.Kind.values)


class DoneListener:
    def __init__(self) -> None:
        self.connected = threading.Event()
        self._lock = threading.Lock()
        self._waiters: dict[tuple[str, str], set[threading.Event]] = defaultdict(set)
        self._thread: threading.Thread | None = None
        self._pid = 0

    def register(self, kind: str, target: str) -> threading.Event:
        """An event set whenever ``target`` of ``kind`` is announced finished."""
        self._ensure_running()
        event = threading.Event()
        with self._lock:
            self._waiters[(channel(kind), target)].add(event)
        return event

    def unregister(self, kind: str, target: str, event: threading.Event) -> None:
        key = (channel(kind), target)
        with self._lock:
            waiting = self._waiters.get(key)
            if waiting is not None:
                waiting.discard(event)
                if not waiting:
                    del self._waiters[key]

    def _ensure_running(self) -> None:
        # After a fork (gunicorn's workers) the parent's thread does not exist here.
        if self._thread is not None and self._thread.is_alive() and self._pid == os.getpid():
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive() and self._pid == os.getpid():
                return
            self.connected.clear()
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="ee-done-listener", daemon=True)
            self._thread.start()

    def _wake(self, channel_name: str, data: str) -> None:
        target, _, status = data.partition(" ")
        with self._lock:
            events = list(self._waiters.get((channel_name, target), ()))
        for event in events:
            event.status = status
            event.set()

    def _wake_all(self) -> None:
        """Connection lost: everyone re-reads the database (and polls until reconnected)."""
        with self._lock:
            events = [e for waiting in self._waiters.values() for e in waiting]
        for event in events:
            event.set()

    def _run(self) -> None:
        while True:
            pubsub = None
            try:
                url = broker.broker_url()
                pubsub = broker.client().pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(*CHANNELS)
                self.connected.set()
                self._wake_all()  # anything finished while not subscribed is read now
                while broker.broker_url() == url:
                    message = pubsub.get_message(timeout=1.0)
                    if message and message.get("type") == "message":
                        self._wake(message["channel"], message["data"])
            except broker.ERRORS as exc:
                log.debug("done listener: %s", exc)
            except Exception:  # never let the thread die: waiting requests would poll forever
                log.exception("done listener failed")
            finally:
                self.connected.clear()
                self._wake_all()
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except Exception:  # noqa: BLE001 - closing a broken connection
                        pass
            time.sleep(0.5)


_listener = DoneListener()


def listener() -> DoneListener:
    return _listener
