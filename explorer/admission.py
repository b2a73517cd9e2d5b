"""Admission to the work queue: one atomic check in Redis for the whole service.

Every queued or running job is a member of ``ee:inflight`` (all clients) and of
``ee:inflight:<client>`` (its client's), scored by when it was admitted. A new job is
admitted only while both sets are below their limits, checked and added in one Lua
script, so two submissions can never both take the last place. The same script hands
out the job's start-time fair queuing stamp: ``max(now, the client's last stamp + cost)``,
so a client that queues six programs at once gets stamps one apart and another
client's single program, stamped "now", is taken before the five others.

The database's Job table is the truth; these sets are its fast, atomic shadow. Members
leave when the job ends (:func:`release`), expire after ``stale_seconds`` if a release is
lost, and are rebuilt from the Job table by the reconciler (:func:`resync`) after Redis
lost them (a restart).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings

from . import broker

ALL = "ee:inflight"
SETTLE_SECONDS = 30

# KEYS: all, mine, fair; ARGV: member, max_all, max_mine, cost, stale_seconds
_ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local stale = tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - stale)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - stale)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return {1, tostring(now), 0}
end
local all = redis.call('ZCARD', KEYS[1])
if all >= tonumber(ARGV[2]) then return {-1, tostring(now), all} end
local mine = redis.call('ZCARD', KEYS[2])
if mine >= tonumber(ARGV[3]) then return {-2, tostring(now), mine} end
local last = tonumber(redis.call('GET', KEYS[3]) or '0')
local start = now
if last > start then start = last end
redis.call('SET', KEYS[3], tostring(start + tonumber(ARGV[4])), 'EX', 3600)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZADD', KEYS[2], now, ARGV[1])
redis.call('EXPIRE', KEYS[2], stale)
return {0, tostring(start), mine + 1}
"""

_scripts: dict[int, object] = {}


class QueueFull(Exception):
    """The whole service has as much work waiting as it may hold (503)."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class ClientShareFull(QueueFull):
    """This client already has its share of the queue (429)."""


@dataclass(frozen=True)
class Ticket:
    member: str
    client: str
    fair_order: float


def client_key(client: str) -> str:
    return f"{ALL}:{client}"


def _script():
    c = broker.client()
    found = _scripts.get(id(c))
    if found is None:
        found = _scripts[id(c)] = c.register_script(_ADMIT)
    return found


def stale_seconds() -> int:
    return int(settings.MAX_QUEUE_SECONDS + settings.LANE_LIMITS["slow"]["wall_seconds"] + 120)


def admit(member: str, client: str, *, share: int, cost: float = 1.0) -> Ticket:
    """Take a place in the queue for ``member`` or raise QueueFull / ClientShareFull /
    broker.BrokerDown. Admitting a member already admitted is a no-op."""
    result = broker.call(
        lambda c: _script()(
            keys=[ALL, client_key(client), f"ee:fair:{client}"],
            args=[member, settings.MAX_QUEUED_JOBS, share, cost, stale_seconds()],
            client=c,
        )
    )
    code, stamp, count = int(result[0]), float(result[1]), int(result[2])
    if code == -1:
        raise QueueFull(
            f"The server is busy: {count} programs are waiting or compiling, as many as it takes. "
            "Try again in a minute.",
            retry_after=30,
        )
    if code == -2:
        raise ClientShareFull(
            f"You already have {count} programs waiting or compiling, the most one person may have at once. "
            "Wait for them to finish (usually a few seconds) and try again.",
            retry_after=5,
        )
    return Ticket(member, client, stamp)


def release(member: str, client: str) -> None:
    """The job ended (or never started): its place is free again. Best effort."""
    try:
        broker.call(lambda c: release_commands(c.pipeline(), member, client).execute())
    except broker.BrokerDown:
        pass  # the member expires, and the reconciler's resync removes it sooner


def release_commands(pipe, member: str, client: str):
    """:func:`release`'s commands, added to a pipeline that sends more (a finished job's
    announcement: explorer/jobs.finish)."""
    return pipe.zrem(ALL, member).zrem(client_key(client), member)


def resync(jobs: list[tuple[str, str, float]]) -> tuple[int, int]:
    """Make the sets hold exactly the live jobs: ``jobs`` is [(member, client, admitted_at)].
    Returns (added, removed)."""
    c = broker.client()
    live = {member: (client, at) for member, client, at in jobs}
    present = dict(broker.call(lambda c: c.zrange(ALL, 0, -1, withscores=True)))
    settled = time.time() - SETTLE_SECONDS  # younger members may belong to a job not yet committed
    pipe = c.pipeline()
    added = removed = 0
    for member, (client, at) in live.items():
        if member not in present:
            pipe.zadd(ALL, {member: at}, nx=True).zadd(client_key(client), {member: at}, nx=True)
            pipe.expire(client_key(client), stale_seconds())
            added += 1
    for member, admitted in present.items():
        if member in live or admitted > settled:
            continue
        client = member.rpartition("@")[2]
        pipe.zrem(ALL, member).zrem(client_key(client), member)
        removed += 1
    if added or removed:
        broker.call(lambda _c: pipe.execute())
    return added, removed


def now() -> float:
    return time.time()
