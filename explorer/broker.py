"""Our own use of the broker's Redis: admission sets, rate-limit buckets, wake-up
messages for the work queue, worker heartbeats. Celery's messages live there too.

One client per URL and process, with short timeouts: when Redis is down, callers get
:class:`BrokerDown` within a couple of seconds and decide what that means (refuse new
work with 503, fall back to local rate limits, …).
"""

from __future__ import annotations

import threading

import redis

_clients: dict[str, redis.Redis] = {}
_lock = threading.Lock()


class BrokerDown(RuntimeError):
    """Redis did not answer."""


def broker_url() -> str:
    from explorer.celery import app

    return app.conf.broker_url


def client() -> redis.Redis:
    url = broker_url()
    with _lock:
        found = _clients.get(url)
        if found is None:
            found = redis.Redis.from_url(
                url, socket_connect_timeout=1.0, socket_timeout=2.0, health_check_interval=15, decode_responses=True
            )
            _clients[url] = found
    return found


ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, redis.exceptions.BusyLoadingError)


def call(fn, *args, **kwargs):
    """Run ``fn(client, …)``; Redis being unreachable becomes BrokerDown."""
    try:
        return fn(client(), *args, **kwargs)
    except ERRORS as exc:
        raise BrokerDown(str(exc)) from exc
