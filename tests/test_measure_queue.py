"""Measurements in the queue of record: their own lane and Celery queue, retried in it,
refused when running is off. Real Redis and a real database; no worker runs them here."""

from __future__ import annotations

import pytest

from explorer import jobs, submissions
from explorer.clients import Client
from explorer.models import Job, Lane, Measurement, Status
from tests.test_submissions import fresh_queue  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db(transaction=True)

ALICE = Client("ip:alice")
BENCH = 'package main\n\nimport "testing"\n\nfunc BenchmarkX(b *testing.B) {}\n'


def test_a_measurement_is_a_run_job_on_the_run_queue(fresh_queue):  # noqa: F811
    comp = submissions.submit(BENCH, client=ALICE)
    m = submissions.request_measurement(comp, ALICE)
    job = Job.objects.get(kind=Job.Kind.RUN)
    assert job.target == str(m.pk) and job.lane == Lane.RUN and job.go == comp.go
    assert jobs.queue_for(Lane.RUN, comp.go) == f"ee.run.go{comp.go}"
    assert fresh_queue.llen(f"ee.run.go{comp.go}") == 1  # the wake-up went to the run queue only
    assert fresh_queue.llen(f"ee.fast.go{comp.go}") == 1  # (the compile's own)
    # asking again while queued: the same one, no second job
    assert submissions.request_measurement(comp, ALICE).pk == m.pk
    assert Job.objects.filter(kind=Job.Kind.RUN).count() == 1


def test_a_lost_run_is_retried_in_the_run_lane(fresh_queue):  # noqa: F811
    comp = submissions.submit(BENCH, client=ALICE)
    submissions.request_measurement(comp, ALICE)
    job = jobs.claim(Lane.RUN, "elsewhere:1")
    assert job is not None and job.kind == Job.Kind.RUN
    assert jobs.lost(job, "test") == "requeued"
    job.refresh_from_db()
    assert job.lane == Lane.RUN and job.state == Job.State.QUEUED
    assert Measurement.objects.get().status == Status.QUEUED


def test_finished_measurement_is_run_again_only_when_asked(fresh_queue):  # noqa: F811
    comp = submissions.submit(BENCH, client=ALICE)
    m = submissions.request_measurement(comp, ALICE)
    job = jobs.claim(Lane.RUN, "elsewhere:1")
    jobs.finish(job, {"status": Status.DONE, "result_gz": None})
    assert submissions.request_measurement(comp, ALICE).status == Status.DONE  # as stored
    again = submissions.request_measurement(comp, ALICE, again=True)
    assert again.pk == m.pk and again.status == Status.QUEUED


def test_running_turned_off_or_nothing_to_run(fresh_queue, settings):  # noqa: F811
    comp = submissions.submit(BENCH, client=ALICE)
    settings.RUN_ENABLED = False
    with pytest.raises(submissions.InvalidInput, match="EXPLORER_RUN=0"):
        submissions.request_measurement(comp, ALICE)
    settings.RUN_ENABLED = True
    lib = submissions.submit("package lib\n\nfunc F() {}\n", client=ALICE)
    with pytest.raises(submissions.InvalidInput, match="Nothing to measure"):
        submissions.request_measurement(lib, ALICE)
    with pytest.raises(submissions.InvalidInput, match="only GOARCH=amd64"):
        submissions.check_measurable(BENCH, "arm64")
    assert not Job.objects.filter(kind=Job.Kind.RUN).exists()


def test_prune_counts_measurements_and_spares_a_program_being_measured():
    import io
    import json
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    from explorer.models import Compilation

    def stored(name: str, status: str) -> Compilation:
        comp = Compilation.objects.create(
            id=name.ljust(16, "a"),
            source="x",
            go="1.27.3",
            goarch="amd64",
            lang="go1.27",
            groups="escape",
            status=Status.DONE,
            stored_bytes=1000,
            last_viewed=timezone.now() - timedelta(days=40),
        )
        Measurement.objects.create(compilation=comp, status=status, result_gz=b"y" * 200)
        return comp

    stored("measured", Status.DONE)
    measuring = stored("measuring", Status.RUNNING)
    out = io.StringIO()
    call_command("prune", "--older-than", "30d", stdout=out)
    report = json.loads(out.getvalue())
    assert report["compilations"] == 1 and report["bytes_freed"] == 1200
    assert list(Compilation.objects.values_list("pk", flat=True)) == [measuring.pk]
    assert Measurement.objects.count() == 1
