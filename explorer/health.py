"""/healthz for load balancers and operators, and the workers' heartbeats behind it.

``GET /healthz`` answers JSON: 200 when the database and the broker answer, else 503
(with ``Retry-After``). It also says which worker processes reported in the last
``HEARTBEAT_TTL`` seconds and which queues they serve, and how much work waits: a
missing slow-lane worker or a growing queue is visible before users notice.
"""

from __future__ import annotations

import json
import logging
import os
import time

from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from . import broker

log = logging.getLogger("explorer.health")
HEARTBEAT_TTL = 30
HEARTBEAT_PREFIX = "ee:worker:"


def heartbeat(queues: list[str], concurrency: int) -> None:
    """Called every few seconds by each worker's main process (worker/tasks.py)."""
    from .jobs import worker_id

    payload = {"queues": queues, "concurrency": concurrency, "pid": os.getpid(), "at": time.time()}
    try:
        broker.call(lambda c: c.set(HEARTBEAT_PREFIX + worker_id(), json.dumps(payload), ex=HEARTBEAT_TTL))
    except broker.BrokerDown:
        pass


def workers() -> list[dict]:
    def read(c):
        keys = sorted(c.scan_iter(match=HEARTBEAT_PREFIX + "*", count=500))
        return [(k, v) for k, v in zip(keys, c.mget(keys) if keys else [], strict=True) if v]

    out = []
    for key, value in broker.call(read):
        try:
            info = json.loads(value)
        except ValueError:
            continue
        out.append({"worker": key.removeprefix(HEARTBEAT_PREFIX), **info})
    return out


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        extra = check() or {}
        return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1), **extra}
    except (DatabaseError, broker.BrokerDown) as exc:
        return {"ok": False, "ms": round((time.perf_counter() - started) * 1000, 1), "error": str(exc)[:200]}


def _database() -> dict:
    from .models import Job

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    queued = Job.objects.filter(state=Job.State.QUEUED).count()
    running = Job.objects.filter(state=Job.State.RUNNING).count()
    return {"queued": queued, "running": running}


def _broker() -> dict:
    broker.call(lambda c: c.ping())
    found = workers()
    lanes: dict[str, int] = {}
    for w in found:
        for q in w.get("queues", []):
            lanes[q] = lanes.get(q, 0) + int(w.get("concurrency") or 0)
    return {"workers": len(found), "slots": lanes}


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    database = _timed(_database)
    broker_state = _timed(_broker)
    ok = database["ok"] and broker_state["ok"]
    body = {"status": "ok" if ok else "unavailable", "database": database, "broker": broker_state}
    response = JsonResponse(body, status=200 if ok else 503)
    if not ok:
        response["Retry-After"] = "10"
    return response
