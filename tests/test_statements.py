"""The worker's statements compiled once (explorer/statements.py) do what the ORM's do: on
the suite's database (SQLite, and PostgreSQL in its second run), with real rows."""

from __future__ import annotations

import pytest
from django.db.models import Count

from explorer import jobs, statements, submissions
from explorer.clients import Client
from explorer.models import Compilation, Job, Lane, Status
from tests.test_submissions import fresh_queue  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db

ALICE, BOB, CAROL = Client("ip:alice"), Client("ip:bob"), Client("ip:carol")


def program(n: int) -> str:
    return f"package main\n\nfunc main() {{ println({n}) }}\n"


def orm_choice(lane: str, cap: int) -> Job | None:
    """What the claim took before it was compiled once: the ORM's own query."""
    busy = (
        Job.objects.filter(state=Job.State.RUNNING, lane=lane)
        .values("client")
        .annotate(n=Count("id"))
        .filter(n__gte=cap)
        .values("client")
    )
    queued = Job.objects.filter(state=Job.State.QUEUED, lane=lane).exclude(client__in=busy)
    return queued.order_by("fair_order", "id").first()


def test_claims_take_the_jobs_the_orm_would_in_its_order(fresh_queue, settings):  # noqa: F811
    settings.CLIENT_MAX_RUNNING = 2
    for n in range(4):
        for c, client in enumerate((ALICE, BOB, CAROL)):
            submissions.submit(program(n * 10 + c), client=client)
    taken = []
    while (expected := orm_choice(Lane.FAST, 2)) is not None:
        job = jobs.claim(Lane.FAST, "here:1", task_id=f"t{len(taken)}")
        assert job is not None and job.pk == expected.pk
        stored = Job.objects.get(pk=job.pk)
        # What the claim wrote, read back by the ORM: the datetimes round-trip exactly.
        assert (stored.state, stored.attempts, stored.worker, stored.task_id) == (
            Job.State.RUNNING,
            1,
            "here:1",
            f"t{len(taken)}",
        )
        assert (stored.claimed_at, stored.lease_until) == (job.claimed_at, job.lease_until)
        assert (job.kind, job.target, job.client, job.lane, job.attempts) == (
            stored.kind,
            stored.target,
            stored.client,
            stored.lane,
            1,
        )
        target = Compilation.objects.get(pk=job.target)
        assert target.status == Status.RUNNING and target.started == job.claimed_at
        taken.append(job.client)
    # Two running per client at most: six jobs taken, six left queued.
    assert sorted(taken) == sorted([ALICE.id, BOB.id, CAROL.id] * 2)
    assert jobs.claim(Lane.FAST, "here:1") is None
    go = Job.objects.values_list("go", flat=True).first()
    assert go and Job.objects.filter(state=Job.State.QUEUED, go=go).count() == 6
    assert jobs.eligible_count(Lane.FAST, go) == 0 == jobs.eligible_count(Lane.FAST, go, older_than=0.001)
    # A different cap is a different statement, not the cached one.
    settings.CLIENT_MAX_RUNNING = 3
    assert jobs.eligible_count(Lane.FAST, go) == 6 == jobs.eligible_count(Lane.FAST, go, older_than=0.001)
    expected = orm_choice(Lane.FAST, 3)
    assert expected is not None and jobs.claim(Lane.FAST, "here:1").pk == expected.pk


def test_finishing_deletes_only_its_job(fresh_queue):  # noqa: F811
    for n in range(2):
        submissions.submit(program(n), client=ALICE)
    first = jobs.claim(Lane.FAST, "here:1")
    assert jobs.finish(first, {"status": Status.DONE})
    assert not Job.objects.filter(pk=first.pk).exists()
    assert Job.objects.count() == 1
    assert Compilation.objects.get(pk=first.target).status == Status.DONE
    assert statements.delete(Job, first.pk) == 0  # gone already


def fields_of(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}


def test_a_target_loads_as_the_orm_loads_it(fresh_queue):  # noqa: F811
    """jobs.target_of: every field, converted as the ORM converts it (aware datetimes,
    bytes, choices), for each kind of target; None when it is gone."""
    from django.utils import timezone

    from explorer.models import Measurement, SSADump, compress_analysis

    comp = submissions.submit(program(99), client=ALICE)
    Compilation.objects.filter(pk=comp.pk).update(
        status=Status.DONE, finished=timezone.now(), analysis_gz=compress_analysis({"status": "ok"}), stored_bytes=7
    )
    dump = SSADump.objects.create(compilation_id=comp.pk, function="main.main", html_gz=b"\x1f\x8b bytes")
    measurement = Measurement.objects.create(compilation_id=comp.pk)
    for model, pk in ((Compilation, comp.pk), (SSADump, dump.pk), (Measurement, measurement.pk)):
        loaded, orm = statements.load(model, pk), model.objects.filter(pk=pk).first()
        assert type(loaded) is model and fields_of(loaded) == fields_of(orm)
        assert loaded._state.adding is False and loaded._state.db == orm._state.db
    loaded = statements.load(Compilation, comp.pk)
    assert loaded.finished.tzinfo is not None and bytes(loaded.analysis_gz) == bytes(
        Compilation.objects.get(pk=comp.pk).analysis_gz
    )
    assert loaded.analysis == {"status": "ok"}
    assert statements.load(Compilation, "no-such-id") is None
    job = Job.objects.get(target=comp.pk)
    assert fields_of(jobs.target_of(job)) == fields_of(Compilation.objects.get(pk=comp.pk))


def test_a_finished_result_is_stored_as_the_orm_stores_it_and_never_over_a_real_one(fresh_queue):  # noqa: F811
    """jobs.finish's UPDATE: bytes, datetimes and choices as the ORM writes them; only over a
    target still queued or running, or failed as lost or expired (jobs.OVERWRITABLE)."""
    from django.utils import timezone

    from explorer.models import Failure

    comps = [submissions.submit(program(200 + n), client=ALICE) for n in range(4)]
    Compilation.objects.filter(pk=comps[1].pk).update(status=Status.FAILED, failure=Failure.LOST)
    Compilation.objects.filter(pk=comps[2].pk).update(status=Status.DONE)
    Compilation.objects.filter(pk=comps[3].pk).update(status=Status.FAILED, failure=Failure.INPUT)
    overwritable = set(Compilation.objects.filter(jobs.OVERWRITABLE).values_list("pk", flat=True))
    assert overwritable == {comps[0].pk, comps[1].pk}
    now = timezone.now()
    fields = {"status": Status.DONE, "failure": "", "analysis_gz": b"\x1f\x8b\x00stored", "stored_bytes": 42}
    for comp in comps:
        assert statements.update(Compilation, comp.pk, {**fields, "finished": now}, jobs.OVERWRITABLE_WHERE) == (
            comp.pk in overwritable
        )
    stored = Compilation.objects.get(pk=comps[0].pk)
    assert (stored.status, bytes(stored.analysis_gz), stored.stored_bytes, stored.finished) == (
        Status.DONE,
        fields["analysis_gz"],
        42,
        now,
    )
    assert Compilation.objects.get(pk=comps[1].pk).status == Status.DONE
    assert Compilation.objects.get(pk=comps[2].pk).analysis_gz is None  # a real result is kept
    assert Compilation.objects.get(pk=comps[3].pk).status == Status.FAILED


def test_a_waited_for_result_is_read_again_as_refresh_from_db_reads_it(fresh_queue):  # noqa: F811
    from django.utils import timezone

    from explorer.models import compress_analysis

    comp = submissions.submit(program(300), client=ALICE)
    mine, orms = Compilation.objects.get(pk=comp.pk), Compilation.objects.get(pk=comp.pk)
    deferred = Compilation.objects.defer("raw_output_gz").get(pk=comp.pk)
    Compilation.objects.filter(pk=comp.pk).update(
        status=Status.DONE, finished=timezone.now(), analysis_gz=compress_analysis({"status": "ok"}), raw_output_gz=b"r"
    )
    statements.refresh(mine, ("status", "failure", "error", "started", "finished"))
    orms.refresh_from_db(fields=["status", "failure", "error", "started", "finished"])
    assert fields_of(mine) == fields_of(orms) and mine.analysis_gz is None  # only the fields asked for
    statements.refresh(mine)
    orms.refresh_from_db()
    assert fields_of(mine) == fields_of(orms) and bytes(mine.analysis_gz) == bytes(orms.analysis_gz)
    statements.refresh(deferred)
    assert "raw_output_gz" in deferred.get_deferred_fields() and deferred.status == Status.DONE
    Compilation.objects.filter(pk=comp.pk).delete()
    with pytest.raises(Compilation.DoesNotExist):
        statements.refresh(mine)
