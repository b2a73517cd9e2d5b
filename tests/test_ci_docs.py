"""docs/CI.md's recipes, run as written on a throwaway git repository.

The GitHub Actions workflow and the GitLab CI job are read from the page (so the page
cannot drift from what is tested); their shell steps are run in order by bash with the
variables a CI service would set, on a module with two revisions whose diff is known
(tests/gomodules.py; its dependencies come through a file:// proxy). What needs the
network is not run: the installation step (this machine's installation stands in for
it: EE is this checkout) and the `uses:` actions (the SARIF they would upload is
validated instead). `gh` and `curl` are stubs on PATH that record what they were asked
to post.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests import gomodules
from tests.conftest import NEWEST_GO, ROOT
from tests.test_sarif import validate as validate_sarif
from worker import toolchains

CI_MD = ROOT / "docs" / "CI.md"

GH_STUB = """#!/bin/bash
# gh stub: records its arguments and the body it was given
printf '%s\\n' "$@" > "$STUB_LOG/gh.args"
while [ $# -gt 0 ]; do
  if [ "$1" = "--body-file" ]; then cp "$2" "$STUB_LOG/gh.body"; fi
  shift
done
"""
CURL_STUB = """#!/bin/bash
# curl stub: records its arguments and the body file of --data-urlencode "body@FILE"
printf '%s\\n' "$@" > "$STUB_LOG/curl.args"
while [ $# -gt 0 ]; do
  case "$1" in --data-urlencode) f="${2#body@}"; cp "$f" "$STUB_LOG/curl.body";; esac
  shift
done
"""


def yaml_blocks() -> list[dict]:
    return [yaml.safe_load(m.group(1)) for m in re.finditer(r"```yaml\n(.*?)```", CI_MD.read_text(), re.DOTALL)]


def github_workflow() -> dict:
    return next(b for b in yaml_blocks() if b.get("name") == "compiler decisions")


def gitlab_job() -> dict:
    return next(b["escape-review"] for b in yaml_blocks() if "escape-review" in b)


@pytest.fixture(scope="module")
def shop():
    tc = toolchains.get(NEWEST_GO)
    root = gomodules.world_readable_dir("ee-ci-")
    proxy = gomodules.make_proxy(root / "proxy")
    base, head = gomodules.make_shop(root / "repo", tc.go, proxy, root / "setup-modcache")
    modcache = root / "modcache"
    modcache.mkdir()
    modcache.chmod(0o755)
    yield {"root": root, "repo": root / "repo", "base": base, "head": head, "env": gomodules.proxy_env(proxy, modcache)}
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def stubs(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("gh", GH_STUB), ("curl", CURL_STUB)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    log = tmp_path / "stub-log"
    log.mkdir()
    return {"PATH": f"{bin_dir}:{os.environ['PATH']}", "STUB_LOG": str(log)}, log


def bash(script: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script], env=env, cwd=cwd, capture_output=True, text=True, timeout=600
    )


def expand(value: str, context: dict[str, str]) -> str:
    """${{ github.x.y }} expressions, as GitHub would fill them in."""
    return re.sub(r"\$\{\{\s*([^}]+?)\s*\}\}", lambda m: context[m.group(1)], str(value))


@pytest.mark.parametrize("hot, fails", [("./alpha/...", True), ("./gamma/...,./delta", False)])
def test_github_actions_workflow(shop, stubs, tmp_path, hot, fails):
    stub_env, log = stubs
    workflow = github_workflow()
    assert workflow.get("on", workflow.get(True)) == "pull_request"  # YAML 1.1 reads a bare on as true
    assert workflow["permissions"]["security-events"] == "write"
    (job,) = workflow["jobs"].values()
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    runner_temp.chmod(0o755)
    context = {
        "github.event.pull_request.base.sha": shop["base"],
        "github.event.pull_request.head.sha": shop["head"],
        "github.event.pull_request.number": "7",
        "github.token": "t0ken",
        "runner.temp": str(runner_temp),
    }
    env = {
        **os.environ,
        **shop["env"],
        **stub_env,
        "RUNNER_TEMP": str(runner_temp),
        "GITHUB_WORKSPACE": str(shop["repo"]),
        "GITHUB_REPOSITORY": "team/shop",
        "EE": str(ROOT),  # what the install step would have put in $GITHUB_ENV
        **{k: expand(v, context) for k, v in job["env"].items()},
        "HOT_PACKAGES": hot,  # the team's choice
    }
    ran, last = [], None
    uses = [s["uses"].split("@")[0] for s in job["steps"] if "uses" in s]
    assert uses == ["actions/checkout", "actions/cache", "github/codeql-action/upload-sarif"]
    for step in job["steps"]:
        if "uses" in step or step.get("id") == "install":
            continue
        step_env = {**env, **{k: expand(v, context) for k, v in (step.get("env") or {}).items()}}
        last = bash(step["run"], step_env, shop["repo"])
        ran.append((step["name"], last.returncode))
        if step is not job["steps"][-1]:
            assert last.returncode == 0, (step["name"], last.stderr[-3000:])
    assert [name for name, _ in ran] == [
        "Compare the compiler's decisions",
        "Comment on the pull request",
        "Fail on new heap allocations in hot packages",
    ]
    assert ran[-1][1] == (1 if fails else 0), last.stderr[-3000:]
    if fails:
        assert "fails on new-heap: example.test/shop/alpha: moved to heap: c" in last.stderr

    # what upload-sarif would upload
    upload = next(s for s in job["steps"] if s.get("uses", "").startswith("github/codeql-action/upload-sarif"))
    sarif = json.loads(Path(expand(upload["with"]["sarif_file"], context)).read_text())
    validate_sarif(sarif)
    assert {r["properties"]["package"] for r in sarif["runs"][0]["results"]} >= {"example.test/shop/alpha"}
    # what was posted as the comment
    args = (log / "gh.args").read_text().split("\n")
    assert args[:3] == ["pr", "comment", "7"] and "team/shop" in args
    body = (log / "gh.body").read_text()
    assert body.startswith("### Compiler decisions") and "`moved to heap: c`" in body
    assert "`example.test/shop/beta`" in body and "`example.test/shop/gamma`" in body


@pytest.mark.parametrize("hot, fails", [("./alpha/...", True), ("./gamma/...", False)])
def test_gitlab_ci_job(shop, stubs, tmp_path, hot, fails):
    stub_env, log = stubs
    job = gitlab_job()
    assert job["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
    project = tmp_path / "project"
    shutil.copytree(shop["repo"], project)
    gomodules.readable(project)
    project.chmod(0o755)
    tmp_path.chmod(0o755)
    ci = {
        "CI_PROJECT_DIR": str(project),
        "CI_MERGE_REQUEST_DIFF_BASE_SHA": shop["base"],
        "CI_COMMIT_SHA": shop["head"],
        "CI_API_V4_URL": "https://gitlab.example.test/api/v4",
        "CI_PROJECT_ID": "42",
        "CI_MERGE_REQUEST_IID": "9",
        "ESCAPE_REVIEW_TOKEN": "t0ken",
    }
    variables = {}
    for name, value in job["variables"].items():
        variables[name] = re.sub(r"\$(\w+)", lambda m: {**ci, **variables}.get(m.group(1), m.group(0)), str(value))
    env = {**os.environ, **shop["env"], **stub_env, **ci, **variables, "EE": str(ROOT), "HOT_PACKAGES": hot}
    script = job["script"]
    before_fail = bash("\n".join(script[:-1]), env, project)
    assert before_fail.returncode == 0, before_fail.stderr[-3000:]
    whole = bash("\n".join(script), env, project)
    assert whole.returncode == (1 if fails else 0), whole.stderr[-3000:]
    sarif = json.loads((project / "escape.sarif").read_text())
    validate_sarif(sarif)
    assert set(job["artifacts"]["paths"]) == {"escape.sarif", "escape-review.md"}
    for artifact in job["artifacts"]["paths"]:
        assert (project / artifact).is_file()
    args = (log / "curl.args").read_text().split("\n")
    assert "https://gitlab.example.test/api/v4/projects/42/merge_requests/9/notes" in args
    assert "PRIVATE-TOKEN: t0ken" in args
    body = (log / "curl.body").read_text()
    assert body == (project / "escape-review.md").read_text() and "`moved to heap: c`" in body
    assert (Path(variables["EE_CACHE"])).is_dir()  # the cache GitLab keeps between pipelines
