"""The deployment files stay valid (checked offline by Debian's docker-compose)."""

import shutil
import subprocess

import pytest

from tests.conftest import ROOT


def test_docker_compose_file_is_valid():
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.fail("docker-compose is not installed (scripts/setup.sh --test installs it)")
    result = subprocess.run([exe, "config", "-q"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_compose_has_the_four_services_and_the_worker_holds_the_toolchains():
    result = subprocess.run(["docker-compose", "config", "--services"], cwd=ROOT, capture_output=True, text=True)
    assert set(result.stdout.split()) == {"web", "worker", "redis", "postgres"}
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "bubblewrap" in dockerfile and "worker.toolchains install" in dockerfile
