"""Fair use: rate limits (429 with Retry-After, per client, tokens), bounded waits, and
costly programs that cannot starve cheap ones — with a real Redis, and for the last,
a service of its own (tests/stack.py) with real workers of both lanes."""

from __future__ import annotations

import threading
import time

import pytest
from django.test import Client as HttpClient

from explorer import ratelimit, submissions
from explorer.models import Compilation
from explorer.ratelimit import Rate
from tests.stack import Stack, slow_program, small_program

TOKENS = {"alice": "alice-token-0123456789", "bob": "bob-token-0123456789ab"}


@pytest.fixture
def clean_rates(broker):
    from explorer import broker as ee_broker

    c = ee_broker.client()

    def forget() -> None:
        for key in c.scan_iter(match="ee:rate:*"):
            c.delete(key)
        ratelimit.reset_local()

    forget()
    yield
    forget()  # the suite's other tests use the same buckets (with generous limits)


@pytest.mark.django_db
def test_reads_past_the_limit_are_429_with_retry_after_json_in_the_api(settings, clean_rates, client):
    settings.RATE_LIMITS = {"read": Rate(3, 6), "submit": Rate(100, 100)}
    for _ in range(3):
        assert client.get("/api/v1/kinds").status_code == 200
    response = client.get("/api/v1/kinds")
    assert response.status_code == 429 and response["Content-Type"] == "application/json"
    assert "Too many requests" in response.json()["error"]
    assert 1 <= int(response["Retry-After"]) <= 10
    page = client.get("/kinds")
    assert page.status_code == 429 and b"One moment, please" in page.content and page["Retry-After"]
    fragment = client.get("/kinds", HTTP_HX_REQUEST="true")
    assert fragment.status_code == 429 and b"Not now." in fragment.content
    assert client.get("/healthz").status_code in (200, 503)  # health checks are never limited


@pytest.mark.django_db
def test_each_client_has_its_own_bucket(settings, clean_rates):
    settings.RATE_LIMITS = {"read": Rate(2, 1), "submit": Rate(100, 100)}
    one, other = HttpClient(REMOTE_ADDR="10.0.0.1"), HttpClient(REMOTE_ADDR="10.0.0.2")
    assert [one.get("/api/v1/kinds").status_code for _ in range(3)] == [200, 200, 429]
    assert other.get("/api/v1/kinds").status_code == 200
    # one IPv6 host holds a whole /64: its addresses share a bucket
    a, b = HttpClient(REMOTE_ADDR="2001:db8::1"), HttpClient(REMOTE_ADDR="2001:db8::2")
    assert [a.get("/api/v1/kinds").status_code, b.get("/api/v1/kinds").status_code] == [200, 200]
    assert a.get("/api/v1/kinds").status_code == 429


@pytest.mark.django_db
def test_forwarded_for_counts_only_behind_trusted_proxies(settings, clean_rates):
    settings.RATE_LIMITS = {"read": Rate(1, 1), "submit": Rate(100, 100)}
    proxy = HttpClient(REMOTE_ADDR="10.9.9.9")
    # no trusted proxy: X-Forwarded-For is whatever the client claims, and ignored
    assert proxy.get("/api/v1/kinds", HTTP_X_FORWARDED_FOR="1.1.1.1").status_code == 200
    assert proxy.get("/api/v1/kinds", HTTP_X_FORWARDED_FOR="2.2.2.2").status_code == 429
    settings.TRUSTED_PROXIES = 1
    ratelimit.reset_local()
    assert proxy.get("/api/v1/kinds", HTTP_X_FORWARDED_FOR="6.6.6.6, 3.3.3.3").status_code == 200
    assert proxy.get("/api/v1/kinds", HTTP_X_FORWARDED_FOR="7.7.7.7, 4.4.4.4").status_code == 200
    # the client's own claim (left of what our proxy appended) changes nothing
    assert proxy.get("/api/v1/kinds", HTTP_X_FORWARDED_FOR="8.8.8.8, 3.3.3.3").status_code == 429


@pytest.mark.django_db
def test_tokens_identify_clients_and_get_larger_limits(settings, clean_rates):
    settings.RATE_LIMITS = {"read": Rate(1, 1), "submit": Rate(100, 100)}
    settings.API_TOKENS = TOKENS
    settings.TOKEN_LIMIT_FACTOR = 3
    alice = HttpClient(REMOTE_ADDR="10.1.1.1", HTTP_AUTHORIZATION=f"Bearer {TOKENS['alice']}")
    bob = HttpClient(REMOTE_ADDR="10.1.1.1", HTTP_AUTHORIZATION=f"Bearer {TOKENS['bob']}")
    assert [alice.get("/api/v1/kinds").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert bob.get("/api/v1/kinds").status_code == 200  # same address, another client
    wrong = HttpClient(HTTP_AUTHORIZATION="Bearer not-a-token-of-ours")
    response = wrong.get("/api/v1/kinds")
    assert response.status_code == 401 and "Unknown API token" in response.json()["error"]


@pytest.mark.django_db
def test_submissions_have_their_own_smaller_bucket(settings, clean_rates, client):
    settings.RATE_LIMITS = {"read": Rate(100, 100), "submit": Rate(2, 1)}
    for n in range(2):
        response = client.post("/api/v1/format", {"source": f"package x\n// {n}\n"}, content_type="application/json")
        assert response.status_code != 429
    response = client.post("/api/v1/compile", {"source": "package main\n"}, content_type="application/json")
    assert response.status_code == 429 and int(response["Retry-After"]) >= 1
    assert client.get("/api/v1/kinds").status_code == 200  # reading still works
    response = client.post("/compare", {"a_source": "package main\n"})  # counts as two
    assert response.status_code == 429 and b"One moment, please" in response.content


@pytest.mark.django_db(transaction=True)
def test_waiting_is_bounded_by_free_web_capacity(settings, broker):
    """With every waiting place of the process taken, a request answers at once (pending)
    instead of holding one more thread."""
    settings.WAIT_SLOTS = 1
    submissions.reset_waiting_places()  # a semaphore of the new size
    comp = Compilation.objects.create(id="a" * 16, source="package main\n", go="1.27.3", goarch="amd64", lang="go1.27")
    holder = threading.Thread(target=submissions.wait_for, args=(comp, 3.0))
    holder.start()
    time.sleep(0.3)
    started = time.monotonic()
    other = Compilation.objects.get(pk=comp.pk)
    submissions.wait_for(other, 3.0)
    assert time.monotonic() - started < 0.5  # did not wait: no place was free
    holder.join()
    submissions.reset_waiting_places()


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_compile_bombs_of_one_client_do_not_delay_another_clients_program(tmp_path, django_db_setup):
    """Six costly programs from Alice, then Bob's trivial one: Bob's is done in about the
    time of a compile, not after hers (the issue measured 60 s)."""
    tokens = ",".join(f"{n}={t}" for n, t in TOKENS.items())
    env = {
        "EXPLORER_API_TOKENS": tokens,
        "EXPLORER_TOKEN_LIMIT_FACTOR": "1",
        "EXPLORER_CLIENT_MAX_RUNNING": "1",
        # Limits well under a bomb's compile (slow_program: ~1 s on the fastest machine seen,
        # 2 s on others), well over Bob's (~30 ms), so that hers fail in both lanes.
        "EXPLORER_FAST_LANE_SECONDS": "0.3",
        "EXPLORER_SLOW_LANE_SECONDS": "0.5",
        "EXPLORER_MAX_CLIENT_JOBS": "6",
        "EXPLORER_RATE_SUBMIT": "100/600",
    }
    service = Stack(tmp_path, env).start()
    try:

        def as_client(name: str):
            return {"Authorization": f"Bearer {TOKENS[name]}"}

        bombs = []
        for n in range(6):
            status, _, body = service.request_as(
                as_client("alice"), "POST", "/api/v1/compile", {"source": slow_program(f"bomb {n}"), "groups": ["wb"]}
            )
            assert status == 202, body
            bombs.append(body["id"])
        status, headers, body = service.request_as(
            as_client("alice"), "POST", "/api/v1/compile", {"source": slow_program("bomb 7"), "groups": ["wb"]}
        )
        assert status == 429 and int(headers["Retry-After"]) > 0  # her share of the queue is full
        started = time.monotonic()
        status, _, body = service.request_as(
            as_client("bob"), "POST", "/api/v1/compile", {"source": small_program("bob"), "wait": 10}
        )
        waited = time.monotonic() - started
        print(f"Bob waited {waited:.2f} s while Alice had six costly programs queued")
        assert status == 200 and body["status"] == "done", body
        assert waited < 3.0, f"Bob waited {waited:.1f} s behind Alice's programs"
        for comp_id in bombs:  # hers end too: in the slow lane, limit hit
            result = service.wait_until_ended(comp_id, timeout=120)
            assert result["status"] == "failed" and result["failure"] == "limit", result
        assert Compilation.objects.filter(pk__in=bombs, lane="slow").count() == 6
        # her next program starts in the slow lane (her history says costly); Bob's does not
        status, _, body = service.request_as(
            as_client("alice"), "POST", "/api/v1/compile", {"source": small_program("alice after"), "wait": 10}
        )
        assert status in (200, 202) and Compilation.objects.get(pk=body["id"]).lane == "slow"
        assert service.wait_until_ended(body["id"], timeout=60)["status"] == "done"
        status, _, body = service.request_as(
            as_client("bob"), "POST", "/api/v1/compile", {"source": small_program("bob after"), "wait": 10}
        )
        assert status == 200 and Compilation.objects.get(pk=body["id"]).lane == "fast"
    finally:
        service.stop()
