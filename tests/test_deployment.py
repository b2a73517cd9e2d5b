"""The deployment files stay valid (checked offline by Debian's docker-compose) and say
what an operator needs: health checks, dependencies on health, restart policies, a
migration job, no default secret, unprivileged users."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import yaml

from tests.conftest import ROOT

SECRETS = {"SECRET_KEY": "a-test-secret-0123456789", "POSTGRES_PASSWORD": "a-test-password"}


def compose(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.fail("docker-compose is not installed (scripts/setup.sh --test installs it)")
    clean = {k: v for k, v in os.environ.items() if k not in SECRETS}
    return subprocess.run(
        [exe, *args], cwd=ROOT, capture_output=True, text=True, timeout=60, env={**clean, **(env or {})}
    )


def resolved() -> dict:
    result = compose("config", env=SECRETS)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_docker_compose_file_is_valid():
    result = compose("config", "-q", env=SECRETS)
    assert result.returncode == 0, result.stderr


def test_there_is_no_default_secret():
    result = compose("config", "-q")
    assert (
        result.returncode != 0
        and "SECRET_KEY" in result.stderr + result.stdout
        or "POSTGRES_PASSWORD" in (result.stderr + result.stdout)
    )
    result = compose("config", "-q", env={"POSTGRES_PASSWORD": "x"})
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


def test_services_have_health_checks_restart_policies_and_wait_for_health():
    services = resolved()["services"]
    assert set(services) == {"web", "worker", "worker-slow", "worker-run", "redis", "postgres", "migrate"}
    for name, service in services.items():
        if name == "migrate":
            assert service["restart"] == "no" and service["command"].endswith("migrate --noinput")
            continue
        assert service["restart"] == "unless-stopped", name
        assert service.get("healthcheck", {}).get("test"), name
    for name in ("web", "worker", "worker-slow", "worker-run"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["postgres"]["condition"] == depends["redis"]["condition"] == "service_healthy", name
        assert "migrate" not in services[name]["command"], name
    assert (
        "-Q ee.fast,ee.format" in services["worker"]["command"] and "-Q ee.slow" in services["worker-slow"]["command"]
    )
    assert "-Q ee.run" in services["worker-run"]["command"]  # users' programs run on a queue of their own
    assert "cap_add" not in services["worker"] and services["web"]["read_only"] is True


def test_the_image_runs_as_an_unprivileged_user_and_holds_the_toolchains():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "bubblewrap" in dockerfile and "worker.toolchains install" in dockerfile
    users = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert "HEALTHCHECK" in dockerfile and "SECRET_KEY=build-only" in dockerfile
