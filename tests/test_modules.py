"""A txtar with a go.mod: a module of several packages, with dependencies fetched through a
module proxy (a file:// directory of the modules in tests/gomodules.py), compiled for real:
by the engine directly, and through the API by the real Celery workers (whose proxy is
that directory, tests/conftest.py)."""

from __future__ import annotations

import shutil

import pytest

from tests import gomodules
from tests.conftest import NEWEST_GO
from tests.httpclient import compile_and_wait, request
from tests.test_sarif import validate as validate_sarif
from worker.compiler import CompileRequest, compile_request
from worker.inputs import InvalidInput, split_files

APP = """-- go.mod --
module example.test/app

go 1.22

require example.test/dep v1.0.0
-- main.go --
package main

import (
	"fmt"

	"example.test/app/store"
	"example.test/dep"
)

func main() {
	fmt.Println(dep.Max(1, 2), dep.Percent(140), store.New(3))
}
-- store/store.go --
package store

type Item struct{ N int }

func New(n int) *Item { return &Item{N: n} }

func Sum(xs []int, i int) int { return xs[i] }
-- README.md --
not compiled
"""

STD_ONLY = """-- go.mod --
module example.test/calc

go 1.21
-- calc.go --
package calc

import "example.test/calc/internal/ops"

func Double(x int) int { return ops.Add(x, x) }
-- internal/ops/ops.go --
package ops

func Add(a, b int) int { return a + b }

var Keep *int

func Leak(x int) { Keep = &x }
-- notes/notes.go --
package notes

import (
	"embed"
	_ "embed"
)

//go:embed hello.txt
var Hello string

//go:embed docs
var Docs embed.FS
-- notes/hello.txt --
hello
-- notes/docs/a.md --
a
"""


@pytest.fixture
def proxy(monkeypatch):
    """The worker's settings for a proxy of the test modules, and a module cache of this test."""
    root = gomodules.world_readable_dir("ee-modproxy-")
    for name, value in gomodules.worker_proxy_env(gomodules.make_proxy(root / "proxy"), root / "modcache").items():
        monkeypatch.setenv(name, value)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def no_proxy(monkeypatch):
    monkeypatch.delenv("EXPLORER_GOPROXY", raising=False)


def compile_txtar(text: str, **kw):
    return compile_request(CompileRequest(split_files(text), go=NEWEST_GO, **kw))


def by_package(analysis) -> dict[str, list]:
    out: dict[str, list] = {}
    for d in analysis.diagnostics:
        out.setdefault(d.package, []).append(d)
    return out


def test_module_with_a_dependency_through_the_proxy(proxy):
    analysis = compile_txtar(APP)
    assert analysis.status == "ok", analysis.errors
    assert analysis.packages == ["example.test/app/store", "example.test/app"]
    assert analysis.lang == "go1.22"  # the module's go line, as go build takes it
    decisions = by_package(analysis)
    assert set(decisions) == {"example.test/app", "example.test/app/store"}
    store = decisions["example.test/app/store"]
    assert {d.file for d in store} == {"store/store.go"}
    assert any(d.kind == "escapes-to-heap" and d.message == "&Item{...} escapes to heap" for d in store)
    assert any(d.kind == "bounds-check" and d.line == 7 for d in store)
    main = decisions["example.test/app"]
    inlined = {d.message for d in main if d.kind == "inlining-call"}
    # inlined across packages and modules: dep (through the proxy), util (dep's dependency), store
    assert {"inlining call to dep.Max", "inlining call to dep.Percent", "inlining call to store.New"} <= inlined
    assert any("util.Clamp" in d.message for d in main if d.kind == "inlining-call")
    # util.Add is written in assembly (its symabis made the package compile): a call, never inlined
    assert not any("util.Add" in d.message for d in main if d.kind == "inlining-call")
    assert {f.name for f in analysis.functions} >= {"main.main", "example.test/app/store.New"}
    assert [f.name for f in analysis.files] == ["main.go", "store/store.go"]  # README and go.mod not compiled
    assert (proxy / "modcache" / "cache" / "download" / "example.test" / "util" / "@v" / "v1.2.0.zip").is_file()


def test_std_only_module_needs_no_proxy(no_proxy):
    analysis = compile_txtar(STD_ONLY, lang="go1.22")
    assert analysis.status == "ok", analysis.errors
    assert analysis.lang == "go1.22"  # the user's choice wins over the go line
    decisions = by_package(analysis)
    assert any(
        d.kind == "inlining-call" and d.message == "inlining call to ops.Add" for d in decisions["example.test/calc"]
    )
    ops = decisions["example.test/calc/internal/ops"]
    assert any(d.kind == "moved-to-heap" and d.file == "internal/ops/ops.go" and d.line == 7 for d in ops)
    assert "example.test/calc/notes" in analysis.packages  # //go:embed of a file and a directory


def test_without_a_proxy_imports_of_other_modules_keep_their_refusal(no_proxy):
    analysis = compile_txtar(APP)
    assert analysis.status == "compile-error"
    messages = [(d.file, d.line, d.message) for d in analysis.diagnostics]
    assert messages == [
        (
            "main.go",
            7,
            'package "example.test/dep" is not in the standard library of Go 1.27.3: only standard library '
            "packages and the module's own can be imported here (no module proxy is configured).",
        )
    ]


def test_a_module_the_proxy_lacks_is_named(proxy):
    text = APP.replace(
        "require example.test/dep v1.0.0", "require (\n\texample.test/dep v1.0.0\n\texample.test/gone v0.1.0\n)"
    )
    analysis = compile_txtar(text)
    assert analysis.status == "compile-error"
    assert any("example.test/gone@v0.1.0 could not be fetched" in e for e in analysis.errors), analysis.errors


@pytest.mark.parametrize(
    "setting, value, says",
    [
        ("EXPLORER_MAX_MODULES", "1", "needs 2 modules; the limit is 1"),
        ("EXPLORER_MAX_DOWNLOAD_MB", "0.0001", "MiB; the limit is"),
    ],
)
def test_fetch_limits(proxy, monkeypatch, setting, value, says):
    monkeypatch.setenv(setting, value)
    analysis = compile_txtar(APP)
    assert analysis.status == "compile-error"
    assert any(says in e for e in analysis.errors), analysis.errors


def test_a_directory_replacement_is_refused(proxy):
    analysis = compile_txtar(APP.replace("-- main.go --", "replace example.test/dep => /etc\n-- main.go --"))
    assert analysis.status == "compile-error"
    assert analysis.errors == [
        "go.mod replaces example.test/dep with the directory /etc: only module versions can be used here."
    ]


def test_a_compile_error_in_one_package_names_it_and_keeps_the_others(no_proxy):
    text = STD_ONLY.replace("func Add(a, b int) int { return a + b }", "func Add(a, b int) int { return a + }")
    analysis = compile_txtar(text)
    assert analysis.status == "compile-error"
    assert any(e.startswith("internal/ops/ops.go:3:") for e in analysis.errors), analysis.errors
    assert any(
        "example.test/calc: not compiled: it imports example.test/calc/internal/ops" in e for e in analysis.errors
    )


@pytest.mark.parametrize(
    "name",
    [
        "../x.go",
        "a/../b.go",
        "/abs/x.go",
        "_ee/x.go",
        "a/b_test.go",
        "a//b.go",
        "a/.hidden/x.go",
        "a/b/c/d/e/f/g/h/i.go",
    ],
)
def test_paths_in_a_module_archive(name):
    with pytest.raises(InvalidInput, match="not allowed"):
        split_files(f"-- go.mod --\nmodule m\n-- {name} --\npackage x\n")


def test_directories_need_a_go_mod():
    with pytest.raises(InvalidInput, match="no directories"):
        split_files("-- a/x.go --\npackage x\n")


def test_a_go_mod_beside_one_package_changes_nothing(no_proxy):
    analysis = compile_txtar(
        "-- go.mod --\nmodule example.com/x\n\ngo 1.22\n-- main.go --\npackage main\n\nfunc main() {}\n"
    )
    assert analysis.status == "ok" and analysis.packages == []
    assert analysis.lang == "go1.27"  # the toolchain's own, as for any single package


# --- through the API and a real Celery worker -------------------------------------------------


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_api_compiles_a_module_with_a_dependency(live_server_url):
    result = compile_and_wait(live_server_url, {"source": APP})
    assert result["status"] == "done" and result["result"] == "ok", result["errors"]
    packages = {d["package"] for d in result["diagnostics"]}
    assert packages == {"example.test/app", "example.test/app/store"}
    assert any(
        d["package"] == "example.test/app" and d["message"] == "inlining call to dep.Max" for d in result["diagnostics"]
    )
    assert [(f["name"], f["compiled"]) for f in result["files"]] == [
        ("go.mod", False),
        ("main.go", True),
        ("store/store.go", True),
        ("README.md", False),
    ]
    status, page = request("GET", f"{live_server_url}/s/{result['id']}")
    assert status == 200
    assert "A module: 2 packages analysed, <code>example.test/app/store</code>, <code>example.test/app</code>" in page
    assert "store/store.go" in page
    status, sarif = request("GET", f"{live_server_url}/api/v1/compilations/{result['id']}/sarif")
    assert status == 200
    validate_sarif(sarif)
    uris = {
        loc["physicalLocation"]["artifactLocation"]["uri"]
        for r in sarif["runs"][0]["results"]
        for loc in r["locations"]
        if "physicalLocation" in loc
    }
    assert "store/store.go" in uris and not any(u.startswith("/") or ".." in u.split("/") for u in uris)


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_api_names_a_module_that_cannot_be_fetched(live_server_url):
    source = APP.replace("example.test/dep v1.0.0", "example.test/dep v1.9.9")
    result = compile_and_wait(live_server_url, {"source": source})
    assert result["status"] == "done" and result["result"] == "compile-error"
    assert any("example.test/dep@v1.9.9" in e and "could not be fetched" in e for e in result["errors"]), result[
        "errors"
    ]


def test_a_broken_go_mod_gets_the_go_commands_message(no_proxy):
    text = STD_ONLY.replace("go 1.21\n", "go 1.21\nrequire (\n")
    analysis = compile_txtar(text)
    assert analysis.status == "compile-error"
    assert any("go.mod:" in e for e in analysis.errors), analysis.errors
    assert not any("/tmp/" in e or "ee-mod-" in e for e in analysis.errors)  # no worker paths


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_api_refuses_a_path_outside_the_module(live_server_url):
    source = "-- go.mod --\nmodule example.test/m\n-- ../evil.go --\npackage evil\n"
    status, body = request("POST", f"{live_server_url}/api/v1/compile", {"source": source})
    assert status == 400 and "not allowed" in body["error"]
