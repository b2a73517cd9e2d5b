"""--check-directives with --repo: the head revision's //gcassert: directives, per package.

A module of two packages (standard library only, so no proxy is involved): ``calc.Small`` is
inlined at base; head marks it //go:noinline, so the directive on its call site in ``app``
(inlined across packages) is violated, while a ``//gcassert:bce`` in ``calc`` holds.
Real git, the real toolchain in the sandbox.
"""

from __future__ import annotations

import json
import shutil

import pytest

from tests import gomodules
from worker import review_cli

MODULE = "example.test/dirs"
GO_MOD = f"module {MODULE}\n\ngo 1.21\n"

CALC_BASE = """package calc

func Small(x int) int { return x*2 + 1 }

func Sum(s []int) (t int) {
	for i := range s {
		t += s[i] //gcassert:bce
	}
	return t
}
"""

CALC_HEAD = """package calc

//go:noinline
func Small(x int) int { return x*2 + 1 }

func Sum(s []int) (t int) {
	for i := range s {
		t += s[i] //gcassert:bce
	}
	return t
}
"""

APP = f"""package app

import "{MODULE}/calc"

func Use(x int) int {{
	return calc.Small(x) //gcassert:inline
}}
"""


@pytest.fixture(scope="module")
def repo():
    root = gomodules.world_readable_dir("ee-dirs-")
    path = root / "repo"
    path.mkdir()
    path.chmod(0o755)
    gomodules.git(path, "init", "-q")
    base = gomodules.commit(path, {"go.mod": GO_MOD, "calc/calc.go": CALC_BASE, "app/app.go": APP}, "base")
    head = gomodules.commit(path, {"calc/calc.go": CALC_HEAD}, "head: Small not inlined")
    yield {"repo": path, "base": base, "head": head}
    shutil.rmtree(root, ignore_errors=True)


def review(capsys, repo, tmp_path, *extra: str) -> tuple[int, dict, str]:
    code = review_cli.main(
        ["--repo", str(repo["repo"]), "--base", repo["base"], "--head", repo["head"], "--format", "json"]
        + ["--cache-dir", str(tmp_path / "cache"), *extra]
    )
    out, err = capsys.readouterr()
    return code, json.loads(out), err


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    monkeypatch.setenv("GOPROXY", "off")  # the module needs nothing from outside


def test_a_violated_directive_fails_the_review_with_the_compilers_reason(capsys, repo, tmp_path):
    code, payload, err = review(capsys, repo, tmp_path, "--check-directives")
    assert code == 1, err
    by_package = {p["package"]: p for p in payload["packages"]}
    app = by_package[f"{MODULE}/app"]["directives"]
    assert [(d["file"], d["line"], d["directive"], d["status"]) for d in app] == [
        ("app/app.go", 6, "inline", "violated")
    ]
    assert "cannot inline" in app[0]["reason"] or "not inlined" in app[0]["reason"], app[0]
    calc = by_package[f"{MODULE}/calc"]["directives"]
    assert [(d["directive"], d["status"]) for d in calc] == [("bce", "held")]
    assert any("app/app.go:6: //gcassert:inline VIOLATED" in f for f in payload["failures"])
    assert "//gcassert:inline VIOLATED" in err


def test_without_the_option_directives_are_listed_but_do_not_fail(capsys, repo, tmp_path):
    code, payload, err = review(capsys, repo, tmp_path)
    assert code == 0, err
    assert not payload["failures"]
    app = {p["package"]: p for p in payload["packages"]}[f"{MODULE}/app"]
    assert app["directives"][0]["status"] == "violated"


def test_the_base_revision_holds_it(capsys, repo, tmp_path):
    """Reviewing base against itself: the call is inlined there, the directive holds."""
    code = review_cli.main(
        ["--repo", str(repo["repo"]), "--base", repo["base"], "--head", repo["base"], "--all"]
        + ["--format", "json", "--check-directives", "--cache-dir", str(tmp_path / "cache")]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    payload = json.loads(out)
    app = {p["package"]: p for p in payload["packages"]}[f"{MODULE}/app"]
    assert [(d["directive"], d["status"]) for d in app["directives"]] == [("inline", "held")]
