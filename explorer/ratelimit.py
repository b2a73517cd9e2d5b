"""Per-client request rate limits: the generic cell rate algorithm (GCRA) in Redis.

Each (client, bucket) has one key holding its "theoretical arrival time". A request is
allowed when it would not push that time more than ``burst`` emission intervals into
the future; otherwise the answer is how long to wait. One atomic script per request,
with Redis's own clock, so every web process on every host shares the same buckets.

When Redis is unreachable the same algorithm runs in this process's memory: limits
then hold per process rather than per service, which is better than none.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from . import broker

# KEYS[1] bucket key; ARGV: interval (s), burst, cost -> {allowed 0/1, retry_after_ms}
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + interval * cost
local allow_at = new_tat - interval * burst
if allow_at > now then
  return {0, math.ceil((allow_at - now) * 1000)}
end
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil((new_tat - now) * 1000) + 1000)
return {1, 0}
"""


@dataclass(frozen=True)
class Rate:
    """``burst`` requests at once, then ``per_minute`` sustained."""

    burst: int
    per_minute: float

    @property
    def interval(self) -> float:
        return 60.0 / self.per_minute

    def times(self, factor: int) -> Rate:
        return Rate(self.burst * factor, self.per_minute * factor)

    @classmethod
    def parse(cls, spec: str) -> Rate:
        """``"30/60"``: a burst of 30, then 60 a minute."""
        burst, _, per_minute = spec.partition("/")
        return cls(int(burst), float(per_minute))


class RateLimited(Exception):
    def __init__(self, retry_after: float, message: str):
        super().__init__(message)
        self.retry_after = max(1, int(retry_after + 0.999))


_script = None
_local: OrderedDict[str, float] = OrderedDict()
_local_lock = threading.Lock()
LOCAL_KEYS = 50_000


def _redis_check(key: str, rate: Rate, cost: int) -> float:
    global _script
    if _script is None:
        _script = broker.client().register_script(_GCRA)
    allowed, retry_ms = broker.call(lambda c: _script(keys=[key], args=[rate.interval, rate.burst, cost], client=c))
    return 0.0 if allowed else retry_ms / 1000


def _local_check(key: str, rate: Rate, cost: int) -> float:
    now = time.monotonic()
    with _local_lock:
        tat = max(_local.get(key, now), now)
        new_tat = tat + rate.interval * cost
        allow_at = new_tat - rate.interval * rate.burst
        if allow_at > now:
            return allow_at - now
        _local[key] = new_tat
        _local.move_to_end(key)
        while len(_local) > LOCAL_KEYS:
            _local.popitem(last=False)
    return 0.0


def check(client_id: str, bucket: str, rate: Rate, cost: int = 1) -> None:
    """Count ``cost`` requests of ``client_id`` in ``bucket``; raise RateLimited when over."""
    key = f"ee:rate:{bucket}:{client_id}"
    try:
        wait = _redis_check(key, rate, cost)
    except broker.BrokerDown:
        wait = _local_check(key, rate, cost)
    if wait > 0:
        raise RateLimited(
            wait,
            f"Too many requests: this server allows {rate.burst} at once and {rate.per_minute:g} a minute "
            f"({bucket}). Try again in {max(1, round(wait))} s.",
        )


def reset_local() -> None:
    with _local_lock:
        _local.clear()
