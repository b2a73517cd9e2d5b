"""How a web process hears that work finished (explorer/done_listener.py): the worker's
announcement carries the status it just stored, a waiter that needs only the status takes
it from there, and everything else reads the database. Real Redis, real database."""

from __future__ import annotations

import threading
import time

import pytest

from explorer import broker as broker_module
from explorer import done_listener, jobs, submissions
from explorer.models import Compilation, Job, Status

pytestmark = pytest.mark.django_db(transaction=True)


def queued_compilation(key: str) -> Compilation:
    return Compilation.objects.create(id=key, source="package main\n", go="1.27.3", goarch="amd64", lang="go1.27")


def job_of(comp: Compilation) -> Job:
    return Job.objects.create(kind=Job.Kind.COMPILE, target=comp.id, client="ip:test", fair_order=1.0)


def announce_later(message: str, seconds: float = 0.3) -> None:
    def publish() -> None:
        time.sleep(seconds)
        broker_module.client().publish(done_listener.channel(Job.Kind.COMPILE), message)

    threading.Thread(target=publish).start()


def heard(comp_id: str, action) -> list[str]:
    """What is announced on the compile channel while ``action`` runs."""
    pubsub = broker_module.client().pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(done_listener.channel(Job.Kind.COMPILE))
    time.sleep(0.05)
    action()
    messages, deadline = [], time.monotonic() + 0.5
    while time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.1)
        if message and message["type"] == "message":
            messages.append(message["data"])
    pubsub.close()
    return [m for m in messages if m.split(" ")[0] == comp_id]


def test_a_status_only_wait_takes_the_announced_status_without_reading_it_back(broker):
    comp = queued_compilation("s" * 16)
    done_listener.listener().register("compile", "warm-up")  # the listener subscribed
    time.sleep(0.3)
    announce_later(f"{comp.id} done")  # the row still says queued: only the announcement says done
    started = time.monotonic()
    answered = submissions.wait_for(comp, 3.0, result=False)
    assert answered.status == Status.DONE and time.monotonic() - started < 2


def test_a_result_wait_and_a_bare_announcement_read_the_database(broker):
    for key, message, result in (("r" * 16, "{} done", True), ("b" * 16, "{}", False)):
        comp = queued_compilation(key)
        announce_later(message.format(comp.id))
        started = time.monotonic()
        answered = submissions.wait_for(comp, 1.0, result=result)
        # woken, it read the row (still queued: nothing finished it) and waited on to its deadline
        assert answered.status == Status.QUEUED and time.monotonic() - started >= 0.9


def test_finish_announces_the_status_it_stored_and_only_that(broker):
    comp = queued_compilation("f" * 16)
    job = job_of(comp)
    fields = {"status": Status.FAILED, "failure": "input", "error": "bad", "analysis_gz": None, "raw_output_gz": None}
    # With its status, then bare, as the previous release announced it (a rolling upgrade).
    assert heard(comp.id, lambda: jobs.finish(job, fields)) == [f"{comp.id} failed", comp.id]
    # Finished again (a second run of the same target): nothing is overwritten, nothing claimed.
    again = job_of(comp)
    assert heard(comp.id, lambda: jobs.finish(again, {**fields, "status": Status.DONE})) == [comp.id]
    assert Compilation.objects.get(pk=comp.pk).status == Status.FAILED
