"""Submitting: the broker being down, and retrying what failed, with real parts."""

import pytest
from django.utils import timezone

from explorer import submissions
from explorer.models import Compilation, compilation_key
from tests.conftest import use_broker
from tests.httpclient import compile_and_wait
from worker.compiler import DIAGNOSTIC_GROUPS

SOURCE = "package main\n\nfunc main() {}\n"


@pytest.fixture
def unreachable_broker():
    from explorer.celery import app

    previous = app.conf.broker_url
    use_broker("redis://127.0.0.1:1/0")  # nothing listens on port 1
    yield
    use_broker(previous)


@pytest.mark.django_db
def test_broker_down_is_a_busy_message_and_leaves_nothing_stored(unreachable_broker, client):
    with pytest.raises(submissions.ServiceBusy, match="not reachable"):
        submissions.submit(SOURCE)
    assert Compilation.objects.count() == 0
    response = client.post("/api/v1/compile", {"source": SOURCE}, content_type="application/json")
    assert response.status_code == 503 and "Try again" in response.json()["error"]
    response = client.post("/compile", {"source": SOURCE}, HTTP_HX_REQUEST="true")
    assert response.status_code == 503 and b"The server is busy" in response.content


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_failed_compilation_is_retried_on_the_next_submission(live_server_url):
    first = compile_and_wait(live_server_url, {"source": SOURCE})
    Compilation.objects.filter(pk=first["id"]).update(
        status=Compilation.Status.FAILED, error="The compiler ran past its time limit", analysis=None
    )
    again = compile_and_wait(live_server_url, {"source": SOURCE})
    assert again["id"] == first["id"] and again["status"] == "done" and again["errors"] == []


@pytest.mark.django_db
def test_a_row_stuck_in_the_queue_counts_as_needing_work():
    comp = Compilation.objects.create(id="x" * 16, source=SOURCE, go="1.27.3", goarch="amd64", lang="go1.27", groups="")
    assert not comp.needs_work()
    comp.created = timezone.now() - Compilation.STALE_AFTER * 2
    assert comp.needs_work()


@pytest.mark.django_db
def test_a_full_queue_refuses_new_work_but_serves_finished_results(settings, client):
    settings.MAX_QUEUED_COMPILATIONS = 2
    for n in range(2):
        Compilation.objects.create(
            id=f"queued{n}", source=SOURCE, go="1.27.3", goarch="amd64", lang="go1.27", groups=""
        )
    with pytest.raises(submissions.ServiceBusy, match="2 programs are waiting"):
        submissions.submit(SOURCE + "// new\n")
    assert Compilation.objects.count() == 2
    response = client.post("/api/v1/compile", {"source": SOURCE}, content_type="application/json")
    assert response.status_code == 503 and "busy" in response.json()["error"]
    # what is already compiled is still served
    done = Compilation.objects.create(
        id=compilation_key(SOURCE, "1.27.3", "amd64", "go1.27", DIAGNOSTIC_GROUPS),
        source=SOURCE,
        go="1.27.3",
        goarch="amd64",
        lang="go1.27",
        groups=",".join(DIAGNOSTIC_GROUPS),
        status=Compilation.Status.DONE,
        analysis={},
        finished=timezone.now(),
    )
    assert submissions.submit(SOURCE, go="1.27.3").pk == done.pk
