"""schemathesis against our own OpenAPI schema, on the live server with real workers:
every operation, with generated valid and invalid requests (a bounded number each),
answers what the schema says (status codes, content types, bodies) and never a 5xx.

The schemathesis command line is used (its pytest plugin does not support this pytest):
``st run <schema URL> --checks all`` (but one, see below), deterministic generation and
a bounded number of examples. The compile operation's response links to the operations
that read a compilation, so the stateful phase exercises them with real ids.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MAX_EXAMPLES = 15
SEED = 20261123


def test_every_operation_answers_as_documented(live_server_url, tmp_path):
    st = Path(sys.executable).with_name("st")
    result = subprocess.run(
        [
            str(st),
            "run",
            f"{live_server_url}/api/v1/openapi.json",
            "--checks",
            "all",
            # A schema cannot say "a Go program, or a txtar archive of one" or "a Go version
            # installed here": a schema-valid request may be refused (400) for its content.
            "--exclude-checks",
            "positive_data_acceptance",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            str(SEED),
            "--generation-deterministic",
            "--request-timeout",
            "30",
            "--workers",
            "2",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-12000:] + result.stderr[-3000:]
