"""Submitting work: admission, shares, the broker being down, what a failure means for
the next request. Real Redis and a real database; no worker is needed (nothing here
waits for a result), except where a test says so."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.utils import timezone

from explorer import admission, submissions
from explorer.clients import Client
from explorer.models import Compilation, Failure, Job, Lane, Status, compilation_key
from tests.conftest import use_broker
from worker.compiler import DIAGNOSTIC_GROUPS

SOURCE = "package main\n\nfunc main() {}\n"
ALICE = Client("ip:alice")
BOB = Client("ip:bob")


def program(n: int) -> str:
    return f"package main\n\nfunc main() {{ println({n}) }}\n"


@pytest.fixture
def fresh_queue(broker):
    """A Redis database of its own (the suite's workers listen on another): admission
    sets and fair stamps start empty, and no worker runs what these tests queue."""
    from explorer import broker as ee_broker

    own = broker.rsplit("/", 1)[0] + "/15"
    use_broker(own)
    client = ee_broker.client()
    client.flushdb()
    yield client
    client.flushdb()
    use_broker(broker)


@pytest.fixture
def unreachable_broker():
    from explorer.celery import app

    previous = app.conf.broker_url
    use_broker("redis://127.0.0.1:1/0")  # nothing listens on port 1
    yield
    use_broker(previous)


def failed(key_source: str, failure: str, **extra) -> Compilation:
    key = compilation_key(key_source, "1.27.3", "amd64", "go1.27", DIAGNOSTIC_GROUPS)
    return Compilation.objects.create(
        id=key,
        source=key_source,
        go="1.27.3",
        goarch="amd64",
        lang="go1.27",
        groups=",".join(DIAGNOSTIC_GROUPS),
        status=Status.FAILED,
        failure=failure,
        error="The compiler ran past its time limit (20 s) and was stopped.",
        finished=timezone.now(),
        **extra,
    )


@pytest.mark.django_db
def test_broker_down_is_a_503_with_retry_after_and_leaves_nothing_stored(unreachable_broker, client):
    with pytest.raises(submissions.ServiceBusy, match="not reachable") as refused:
        submissions.submit(SOURCE, client=ALICE)
    assert refused.value.status == 503 and refused.value.retry_after > 0
    assert Compilation.objects.count() == 0 and Job.objects.count() == 0
    response = client.post("/api/v1/compile", {"source": SOURCE}, content_type="application/json")
    assert response.status_code == 503 and "Try again" in response.json()["error"]
    assert int(response["Retry-After"]) > 0
    response = client.post("/compile", {"source": SOURCE}, HTTP_HX_REQUEST="true")
    assert response.status_code == 503 and b"not reachable" in response.content


@pytest.mark.django_db
def test_a_new_submission_is_a_queued_job_with_a_fair_stamp(fresh_queue):
    comp = submissions.submit(SOURCE, client=ALICE)
    job = Job.objects.get(kind=Job.Kind.COMPILE, target=comp.pk)
    assert comp.status == Status.QUEUED and job.state == Job.State.QUEUED and job.lane == Lane.FAST
    assert job.client == ALICE.id
    assert fresh_queue.zscore(admission.ALL, job.member) is not None
    # the same program again: the same row, no second job, no second place in the queue
    again = submissions.submit(SOURCE, client=BOB)
    assert again.pk == comp.pk and Job.objects.count() == 1 and fresh_queue.zcard(admission.ALL) == 1


@pytest.mark.django_db
def test_one_client_with_many_programs_does_not_go_before_another_clients_one(fresh_queue):
    """Start-time fair queuing: Alice's burst gets stamps one apart; Bob's one program,
    sent after all of hers, is taken second."""
    alice = [submissions.submit(program(n), client=ALICE) for n in range(5)]
    bob = submissions.submit(program(100), client=BOB)
    order = list(Job.objects.order_by("fair_order").values_list("target", flat=True))
    assert order[0] == alice[0].pk and order[1] == bob.pk
    assert order[2:] == [c.pk for c in alice[1:]]


@pytest.mark.django_db
def test_a_clients_share_of_the_queue_is_a_429_and_the_others_still_get_in(settings, fresh_queue, client):
    settings.MAX_CLIENT_JOBS = 3
    for n in range(3):
        submissions.submit(program(n), client=ALICE)
    with pytest.raises(submissions.ServiceBusy, match="already have 3 programs") as refused:
        submissions.submit(program(3), client=ALICE)
    assert refused.value.status == 429 and refused.value.retry_after > 0
    assert Compilation.objects.count() == 3  # nothing stored for the refused one
    submissions.submit(program(4), client=BOB)
    response = client.post("/api/v1/compile", {"source": program(5)}, content_type="application/json")
    assert response.status_code == 202  # another client (the test client's address) is still served


@pytest.mark.django_db(transaction=True)
def test_the_queue_check_is_atomic_under_concurrent_submissions(settings, fresh_queue):
    """200 submissions from one client, 32 at a time, share 10: exactly 10 accepted."""
    settings.MAX_CLIENT_JOBS = 10
    accepted, refused = [], []
    lock = threading.Lock()

    def send(n: int) -> None:
        try:
            comp = submissions.submit(program(n), client=ALICE)
            with lock:
                accepted.append(comp.pk)
        except submissions.ServiceBusy as exc:
            with lock:
                refused.append(exc.status)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=32) as pool:
        list(pool.map(send, range(200)))
    assert len(accepted) == 10 and refused == [429] * 190
    assert Compilation.objects.count() == 10 and fresh_queue.zcard(admission.ALL) == 10


@pytest.mark.django_db
def test_the_service_wide_limit_is_a_503(settings, fresh_queue):
    settings.MAX_QUEUED_JOBS = 2
    submissions.submit(program(1), client=ALICE)
    submissions.submit(program(2), client=BOB)
    with pytest.raises(submissions.ServiceBusy, match="The server is busy") as refused:
        submissions.submit(program(3), client=Client("ip:carol"))
    assert refused.value.status == 503


@pytest.mark.django_db
def test_a_program_that_hit_a_limit_is_remembered_not_run_again_by_get_or_resubmission(fresh_queue, client):
    comp = failed(SOURCE, Failure.LIMIT)
    page = client.get(f"/s/{comp.pk}")
    assert page.status_code == 200 and b"The sandbox stopped the compiler" in page.content
    assert b"Run it again" in page.content
    again = submissions.submit(SOURCE, client=ALICE)
    assert again.status == Status.FAILED and Job.objects.count() == 0
    assert client.get(f"/api/v1/compilations/{comp.pk}").json()["failure"] == "limit"
    assert Job.objects.count() == 0
    # an explicit re-run queues it, in the slow lane
    response = client.post(f"/s/{comp.pk}/rerun")
    assert response.status_code == 302 and response["Location"] == f"/s/{comp.pk}"
    job = Job.objects.get(target=comp.pk)
    assert job.lane == Lane.SLOW
    comp.refresh_from_db()
    assert comp.status == Status.QUEUED and comp.failure == ""


@pytest.mark.django_db
def test_a_failure_on_our_side_is_run_again_by_the_next_submission(fresh_queue):
    comp = failed(SOURCE, Failure.LOST)
    again = submissions.submit(SOURCE, client=ALICE)
    assert again.pk == comp.pk and again.status == Status.QUEUED
    assert Job.objects.filter(target=comp.pk).count() == 1


@pytest.mark.django_db
def test_reruns_count_in_the_rate_limit(settings, fresh_queue, client):
    from explorer.ratelimit import Rate

    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "submit": Rate(1, 1)}
    comp = failed(SOURCE, Failure.LIMIT)
    assert client.post(f"/s/{comp.pk}/rerun").status_code == 302
    response = client.post(f"/api/v1/compilations/{comp.pk}/rerun")
    assert response.status_code == 429 and int(response["Retry-After"]) >= 1


@pytest.mark.django_db
def test_a_failed_permalink_survives_the_broker_being_down(unreachable_broker, client):
    comp = failed(SOURCE, Failure.LIMIT)
    for _ in range(3):
        assert client.get(f"/s/{comp.pk}").status_code == 200
    assert Compilation.objects.filter(pk=comp.pk).exists()
    response = client.post(f"/s/{comp.pk}/rerun")
    assert response.status_code == 503 and int(response["Retry-After"]) > 0
    comp.refresh_from_db()
    assert comp.status == Status.FAILED and comp.failure == Failure.LIMIT  # untouched, not deleted


@pytest.mark.django_db
def test_a_compare_page_of_failed_sides_queues_nothing(fresh_queue, client):
    a = failed(SOURCE, Failure.LIMIT)
    b = failed(program(1), Failure.LOST)
    for _ in range(2):
        assert client.get(f"/c/{a.pk}/{b.pk}").status_code == 200
    assert Job.objects.count() == 0
