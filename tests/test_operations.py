"""Operations: /healthz, retention (manage.py prune), the reconciler's rules one by one,
structured logs, and a settings module that refuses to start without a secret."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from explorer import jobs
from explorer.logs import JsonFormatter
from explorer.models import Compilation, Failure, Job, Lane, SSADump, Status
from tests.conftest import ROOT, use_broker

SOURCE = "package main\n\nfunc main() {}\n"


def stored(key: str, *, viewed_days_ago: float = 0, size: int = 1000, status: str = Status.DONE) -> Compilation:
    return Compilation.objects.create(
        id=key.ljust(16, "a")[:16],
        source=SOURCE,
        go="1.27.3",
        goarch="amd64",
        lang="go1.27",
        groups="escape",
        status=status,
        stored_bytes=size,
        last_viewed=timezone.now() - timedelta(days=viewed_days_ago),
    )


def queued_job(comp: Compilation, **fields) -> Job:
    defaults = {"kind": Job.Kind.COMPILE, "target": comp.pk, "client": "ip:test", "fair_order": 1.0}
    return Job.objects.create(**{**defaults, **fields})


# --- /healthz --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_healthz_reports_database_broker_and_queue(broker, client):
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 200 and body["status"] == "ok"
    assert body["database"]["ok"] and body["broker"]["ok"]
    assert {"queued", "running"} <= body["database"].keys() and "workers" in body["broker"]
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.django_db
def test_healthz_is_503_when_the_broker_is_down(broker, client):
    use_broker("redis://127.0.0.1:1/0")
    try:
        response = client.get("/healthz")
    finally:
        use_broker(broker)
    assert response.status_code == 503 and response.json()["broker"]["ok"] is False
    assert response["Retry-After"]


# --- retention -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_prune_deletes_what_nobody_viewed_and_keeps_the_rest():
    old = stored("old", viewed_days_ago=40)
    recent = stored("recent", viewed_days_ago=2)
    busy = stored("busy", viewed_days_ago=90, status=Status.QUEUED)
    queued_job(busy)
    SSADump.objects.create(compilation=old, function="main.main", status=Status.DONE, html_gz=b"x" * 50)
    out = io.StringIO()
    call_command("prune", "--older-than", "30d", "--dry-run", stdout=out)
    report = json.loads(out.getvalue())
    assert report["compilations"] == 1 and report["dry_run"] and Compilation.objects.count() == 3
    out = io.StringIO()
    call_command("prune", "--older-than", "30d", stdout=out)
    report = json.loads(out.getvalue())
    assert report["compilations"] == 1 and report["ssa_dumps"] == 1 and report["bytes_freed"] == 1050
    assert set(Compilation.objects.values_list("pk", flat=True)) == {recent.pk, busy.pk}


@pytest.mark.django_db
def test_prune_meets_a_size_budget_least_recently_viewed_first_never_the_recent():
    for n, days in enumerate([20, 10, 5, 3, 0.1]):
        stored(f"c{n}", viewed_days_ago=days, size=1000)
    out = io.StringIO()
    call_command("prune", "--older-than", "30d", "--max-size", "2500", "--keep-recent", "1d", stdout=out)
    report = json.loads(out.getvalue())
    left = set(Compilation.objects.values_list("pk", flat=True))
    assert report["compilations"] == 3 and report["bytes_stored"] == 2000 and not report["over_budget"]
    assert left == {"c3".ljust(16, "a"), "c4".ljust(16, "a")}
    out = io.StringIO()
    call_command("prune", "--older-than", "30d", "--max-size", "500", "--keep-recent", "1d", stdout=out)
    report = json.loads(out.getvalue())
    assert report["over_budget"] and Compilation.objects.filter(pk="c4".ljust(16, "a")).exists()


@pytest.mark.django_db
def test_prune_drops_old_ssa_dumps_on_their_own():
    comp = stored("withdumps", viewed_days_ago=0)
    old = SSADump.objects.create(compilation=comp, function="main.a", status=Status.DONE, html_gz=b"x")
    SSADump.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(days=8))
    SSADump.objects.create(compilation=comp, function="main.b", status=Status.DONE, html_gz=b"x")
    call_command("prune", "--older-than", "30d", "--ssa-older-than", "7d", stdout=io.StringIO())
    assert list(SSADump.objects.values_list("function", flat=True)) == ["main.b"]


def test_prune_refuses_nonsense_arguments():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("prune", "--older-than", "soon", stdout=io.StringIO())


def test_analysis_is_stored_compressed():
    """A 50 KiB program's result: what is stored, against its JSON (the issue measured
    2.4 MB for such an input before the analysis was compressed)."""
    from explorer.models import compress_analysis
    from worker.compiler import CompileRequest, compile_request
    from worker.inputs import split_files

    functions = "".join(
        f"func f{i}(n int) *[]int {{\n\ts := make([]int, n)\n\tfor j := range s {{\n\t\ts[j] = j * {i}\n\t}}\n"
        f"\treturn &s\n}}\n\n"
        for i in range(500)
    )
    source = f"package main\n\n{functions}func main() {{ println(f1(3)) }}\n"
    assert 40_000 < len(source) < 140_000
    analysis = compile_request(CompileRequest(split_files(source)))
    assert analysis.status == "ok"
    analysis.raw_output = ""
    as_json = len(json.dumps(analysis.to_dict()))
    packed = len(compress_analysis(analysis.to_dict()))
    assert packed * 5 < as_json, (packed, as_json)


# --- the reconciler, rule by rule ----------------------------------------------------------


@pytest.fixture
def no_wakeups(monkeypatch):
    """The reconciler's broker side is tested with real processes (test_faults.py);
    here only its database rules, so its wake-up calls are counted, not sent."""
    sent: list[str] = []
    monkeypatch.setattr(jobs, "wake", lambda lane, go="", count=1: sent.extend([lane] * count) or count)
    return sent


@pytest.mark.django_db
def test_a_running_job_past_its_lease_is_queued_again_in_the_slow_lane(broker, no_wakeups):
    comp = stored("leased", status=Status.RUNNING)
    job = queued_job(
        comp,
        state=Job.State.RUNNING,
        attempts=1,
        claimed_at=timezone.now(),
        worker="elsewhere:1",
        lease_until=timezone.now() - timedelta(seconds=1),
    )
    assert jobs.reconcile()["lost"] == 1
    job.refresh_from_db()
    comp.refresh_from_db()
    assert job.state == Job.State.QUEUED and job.lane == Lane.SLOW and not job.worker
    assert comp.status == Status.QUEUED and comp.lane == Lane.SLOW
    assert no_wakeups == [Lane.SLOW]


@pytest.mark.django_db
def test_a_job_lost_max_attempts_times_fails_with_a_reason(broker, settings, no_wakeups):
    comp = stored("lostmany", status=Status.RUNNING)
    queued_job(
        comp,
        state=Job.State.RUNNING,
        attempts=settings.MAX_ATTEMPTS,
        claimed_at=timezone.now(),
        worker="elsewhere:1",
        lease_until=timezone.now() - timedelta(seconds=1),
    )
    jobs.reconcile()
    comp.refresh_from_db()
    assert comp.status == Status.FAILED and comp.failure == Failure.LOST
    assert f"stopped unexpectedly {settings.MAX_ATTEMPTS} times" in comp.error
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_a_dead_process_on_this_host_is_noticed_before_its_lease_runs_out(broker, no_wakeups):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    comp = stored("deadpid", status=Status.RUNNING)
    queued_job(
        comp,
        state=Job.State.RUNNING,
        attempts=1,
        claimed_at=timezone.now(),
        worker=f"{jobs.hostname()}:{dead.pid}",
        lease_until=timezone.now() + timedelta(minutes=5),
    )
    assert jobs.reconcile()["lost"] == 1


@pytest.mark.django_db
def test_a_job_that_waited_too_long_fails_as_expired(broker, settings, no_wakeups):
    comp = stored("waited", status=Status.QUEUED)
    queued_job(comp, created=timezone.now() - timedelta(seconds=settings.MAX_QUEUE_SECONDS + 1))
    assert jobs.reconcile()["expired"] == 1
    comp.refresh_from_db()
    assert comp.status == Status.FAILED and comp.failure == Failure.EXPIRED and "No compiler was free" in comp.error
    assert comp.may_retry


@pytest.mark.django_db
def test_a_target_left_queued_without_a_job_gets_one(broker, no_wakeups):
    comp = stored("orphan", status=Status.RUNNING)
    Compilation.objects.filter(pk=comp.pk).update(created=timezone.now() - timedelta(minutes=5))
    assert jobs.reconcile()["orphans"] == 1
    assert Job.objects.get(target=comp.pk).state == Job.State.QUEUED


@pytest.mark.django_db
def test_a_real_result_wins_over_a_presumed_loss(broker):
    comp = stored("late", status=Status.FAILED)
    Compilation.objects.filter(pk=comp.pk).update(failure=Failure.LOST)
    job = queued_job(comp, state=Job.State.RUNNING)
    assert jobs.finish(job, {"status": Status.DONE, "failure": "", "error": ""})
    comp.refresh_from_db()
    assert comp.status == Status.DONE and not Job.objects.exists()


@pytest.mark.django_db
def test_reconcile_command_runs_one_pass(broker):
    out = io.StringIO()
    call_command("reconcile", stdout=out)
    assert set(json.loads(out.getvalue())) == {"lost", "expired", "orphans", "woken"}


# --- logs and settings --------------------------------------------------------------------------


def test_log_lines_are_json_with_the_extra_fields():
    record = logging.LogRecord("explorer.jobs", logging.INFO, __file__, 1, "job %s done", ("x",), None)
    record.job, record.ms = "abc", 12.5
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "job x done" and line["job"] == "abc" and line["ms"] == 12.5 and line["level"] == "info"


def test_settings_refuse_to_start_without_a_secret_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "SECRET_KEY_FILE", "DEBUG")}
    env.update(ESCAPE_EXPLORER_VAR=str(tmp_path), DJANGO_SETTINGS_MODULE="explorer.settings")
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0 and "No SECRET_KEY" in result.stderr
    env["SECRET_KEY"] = "a-secret-for-this-test-only-0123456789"
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
