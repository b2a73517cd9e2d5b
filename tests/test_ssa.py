"""GOSSAFUNC: the compiler's ssa.html of one function (worker/ssa.py, the runner's
``-collect``, the worker.ssa task and the /s/<id>/ssa/<function> pages).

Real compilers, real sandbox, a real worker; no mocks.
"""

from __future__ import annotations

import gzip
import re
import shutil
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from explorer.models import SSADump
from tests.conftest import NEWEST_GO, OLDEST_GO
from tests.httpclient import compile_and_wait
from worker import compiler, sandbox, ssa, toolchains
from worker.analysis import SourceFile
from worker.inputs import InvalidInput
from worker.parse.logopt import new_marker

PROGRAM = """package main

type T struct{ a, b int }

func newT(a int) *T { return &T{a: a, b: a * 2} }

func (t *T) M() int { return t.a + t.b }

func main() {
	t := newT(3)
	println(t.M())
}
"""


def request(go: str, source: str = PROGRAM) -> compiler.CompileRequest:
    return compiler.CompileRequest(files=[SourceFile("main.go", source)], go=go)


def pass_names(html: str) -> set[str]:
    """Pass names of the page: headed columns (<h2>) and collapsed runs of unchanged
    passes (ids like "short-circuit--+--opt--+--zero-arg-cse-col")."""
    names = set(re.findall(r"<h2>([^<]*)</h2>", html))
    for run in re.findall(r'<td id="([^"]*)-col"', html):
        names.update(run.split("--+--"))
    return names


@pytest.mark.parametrize("go", [OLDEST_GO, NEWEST_GO])
def test_ssa_html_of_a_function_has_its_passes(go):
    html = ssa.ssa_html(request(go), "main.newT")
    assert html.lstrip().startswith("<html>")
    assert {"start", "opt", "regalloc", "genssa"} <= pass_names(html)
    assert "newT" in html and "main.newT(SB)" in html  # the function's own code, in genssa
    assert "(*T).M" not in html


@pytest.mark.parametrize("go", [OLDEST_GO, NEWEST_GO])
def test_a_method_symbol_name_is_accepted_as_it_is(go):
    functions = ssa.user_functions(compiler.compile_request(request(go)).functions, ["main.go"], "main")
    assert "main.(*T).M" in functions and "main.newT" in functions
    html = ssa.ssa_html(request(go), "main.(*T).M", functions)
    assert "main.(*T).M(SB)" in html
    assert "genssa" in pass_names(html)


@pytest.mark.parametrize("function", ["main.nope", "newT", "runtime.mallocgc", "main.newT:genssa", "main.newT+"])
def test_a_function_not_of_the_users_files_is_refused(function):
    with pytest.raises(InvalidInput, match="not one of the functions"):
        ssa.ssa_html(request(NEWEST_GO), function)


def test_a_program_that_does_not_compile_has_no_ssa():
    with pytest.raises(InvalidInput, match="does not compile"):
        ssa.ssa_html(request(NEWEST_GO, "package main\n\nfunc main() { x }\n"), "main.main")


def test_split_collected_reads_whole_files_and_reports_too_large_ones():
    m = new_marker()
    stdout = (
        "dumped SSA to /tmp/ssa/x.html\n"
        f"#ee-file {m} begin 12 main.f,1.html\n<html>\n</x>\n\n#ee-file {m} end\n"
        f"#ee-file {m} toolarge 99999999 main.g.html\n"
        f"#ee-file {m} begin 5 cut.html\nabc"  # cut short: not kept
    )
    own, files = ssa.split_collected(stdout, m)
    assert own == "dumped SSA to /tmp/ssa/x.html\n"
    assert [(f.name, f.size, f.text) for f in files] == [
        ("main.f,1.html", 12, "<html>\n</x>\n\n"),
        ("main.g.html", 99999999, None),
    ]
    assert ssa.split_collected(f"#ee-file {'0' * 32} begin 1 a.html\nx\n#ee-file {'0' * 32} end\n", m)[1] == []


def runner_collect(tc: toolchains.Toolchain, collect: str, maximum: int) -> tuple[sandbox.SandboxResult, str]:
    """The runner with -collect around a compile whose object file lands in the collected
    directory (the runner created it), named like a page."""
    workdir = Path(tempfile.mkdtemp(prefix="ee-test-"))  # reachable by the sandbox's user
    (workdir / "main.go").write_text(PROGRAM)
    marker = new_marker()
    argv = [
        str(tc.runner),
        "-marker",
        marker,
        "-collect",
        collect,
        "-collect-max",
        str(maximum),
        "--",
        str(tc.compile),
        "-p",
        "main",
        "-importcfg",
        str(tc.importcfg("amd64")),
        "-o",
        "/tmp/ssa/out.html",
        "main.go",
    ]
    try:
        result = sandbox.run(
            argv, env=compiler.compiler_env(tc, "amd64"), ro_paths=[tc.root], input_dir=workdir, cwd=str(workdir)
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return result, marker


def test_the_runner_frames_collected_files_and_refuses_large_ones():
    tc = toolchains.get(NEWEST_GO)
    result, marker = runner_collect(tc, "/tmp/ssa:*.html", 64 * 1024**2)
    assert result.returncode == 0, result.stderr
    _, files = ssa.split_collected(result.stdout, marker)
    assert [f.name for f in files] == ["out.html"]
    assert files[0].text.startswith("!<arch>")  # the object file, verbatim
    assert files[0].size > 100

    result, marker = runner_collect(tc, "/tmp/ssa:*.html", 100)
    _, files = ssa.split_collected(result.stdout, marker)
    assert len(files) == 1 and files[0].text is None and files[0].size > 100

    result, marker = runner_collect(tc, "/tmp/ssa:*.json", 64 * 1024**2)
    assert ssa.split_collected(result.stdout, marker)[1] == []

    for bad in ("relative:*.html", "/tmp/ssa:", "/tmp/ssa:a/*.html", "/tmp/ssa:[", "/tmp/ssa"):
        result, _ = runner_collect(tc, bad, 100)
        assert result.returncode == 125, (bad, result.stderr)
        assert "usage" in result.stderr


# --- end to end: the task and the pages -------------------------------------------------


def get(url: str, headers: dict | None = None) -> tuple[int, dict, str]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read().decode()


def post(url: str) -> tuple[int, dict, str]:
    req = urllib.request.Request(url, data=b"", method="POST")
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, dict(resp.headers), resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read().decode()


def ssa_url(base: str, compilation_id: str, function: str) -> str:
    return f"{base}/s/{compilation_id}/ssa/{urllib.parse.quote(function, safe='()*')}"


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_the_ssa_page_polls_then_frames_the_compilers_page(live_server_url):
    result = compile_and_wait(live_server_url, {"source": PROGRAM, "go": NEWEST_GO})
    assert result["status"] == "done", result
    page_url = f"{live_server_url}/s/{result['id']}"

    # The permalink offers each of the user's functions' SSA: a button (a POST), so
    # following links (crawlers, link previews) never makes the server compile anything.
    status, _, body = get(page_url)
    assert status == 200
    assert f'action="/s/{result["id"]}/ssa/main.(*T).M"' in body
    assert f'action="/s/{result["id"]}/ssa/main.newT"' in body

    url = ssa_url(live_server_url, result["id"], "main.(*T).M")
    status, _, body = get(url)
    assert status == 200 and "Show the SSA passes" in body and "<iframe" not in body
    assert SSADump.objects.count() == 0  # a GET asks for nothing
    status, _, body = post(url)
    assert status == 200, body  # redirected (303/302) to the page, which polls or frames
    deadline = time.monotonic() + 60
    while "<iframe" not in body:
        assert "No SSA" not in body, body
        assert 'hx-get="/s/' in body and "<noscript><meta http-equiv" in body or "pending" in body, body
        assert time.monotonic() < deadline, body
        time.sleep(0.2)
        status, _, body = get(url, {"HX-Request": "true"})  # the fragment the page polls
        assert status == 200, body
    raw_path = f"/s/{result['id']}/ssa/main.(*T).M/raw"
    assert f'sandbox="allow-scripts" src="{raw_path}"' in body
    assert "allow-same-origin" not in body

    status, headers, html = get(live_server_url + raw_path)
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    csp = headers["Content-Security-Policy"]
    assert csp.startswith("sandbox allow-scripts;") and "allow-same-origin" not in csp
    assert "default-src 'none'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "main.(*T).M(SB)" in html and "genssa" in pass_names(html)

    # Served compressed to clients that take gzip, unchanged.
    req = urllib.request.Request(live_server_url + raw_path, headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(resp.read()).decode() == html

    # A second visit finds the stored dump at once.
    status, _, body = get(url)
    assert status == 200 and "<iframe" in body


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "function",
    [
        "runtime.mallocgc",
        "main.nope",
        "main.newT%00",
        "main.newT%0Aevil",
        "main.newT:genssa",
        "..%2F..%2Fetc%2Fpasswd",
        "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "main.newT" * 200,
        "main.newT/raw/raw",
        "type:.eq.main.T",
    ],
)
def test_a_hostile_function_name_is_a_404(live_server_url, function):
    result = compile_and_wait(live_server_url, {"source": PROGRAM, "go": NEWEST_GO})
    for suffix in ("", "/raw"):
        status, headers, body = get(f"{live_server_url}/s/{result['id']}/ssa/{function}{suffix}")
        assert status == 404, (function, suffix, status, body[:500])
        assert "<script>alert" not in body
    status, _, body = post(f"{live_server_url}/s/{result['id']}/ssa/{function}")
    # 404, or for ".../raw" (the frame's own route, GET only) a refused POST
    assert status in (403, 404, 405) and "<script>alert" not in body
    assert SSADump.objects.count() == 0


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_no_ssa_for_an_unknown_compilation_or_one_without_assembly(live_server_url):
    status, _, _ = get(f"{live_server_url}/s/nosuchcompilati/ssa/main.main")
    assert status == 404
    result = compile_and_wait(live_server_url, {"source": PROGRAM, "go": NEWEST_GO, "groups": ["escape"]})
    assert result["status"] == "done"
    status, _, body = get(f"{live_server_url}/s/{result['id']}/ssa/main.newT")
    assert status == 404
    status, _, body = get(f"{live_server_url}/s/{result['id']}")
    assert "/ssa/" not in body
