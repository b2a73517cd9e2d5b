"""A tiny JSON-over-HTTP client for the end-to-end tests (urllib, no extra package)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request


def request(method: str, url: str, payload: dict | None = None, timeout: float = 30) -> tuple[int, dict | str]:
    data = json.dumps(payload).encode() if payload is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, body = resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        status, body = err.code, err.read().decode()
    try:
        return status, json.loads(body)
    except json.JSONDecodeError:
        return status, body


def compile_and_wait(base: str, payload: dict, timeout: float = 60) -> dict:
    status, body = request("POST", f"{base}/api/v1/compile", payload)
    assert status in (200, 202), (status, body)
    deadline = time.monotonic() + timeout
    while True:
        status, result = request("GET", f"{base}/api/v1/compilations/{body['id']}")
        assert status == 200, (status, result)
        if result["status"] in ("done", "failed"):
            return result
        assert time.monotonic() < deadline, f"no result after {timeout} s: {result['status']}"
        time.sleep(0.05)
