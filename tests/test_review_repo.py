"""Two git revisions of a module with dependencies, reviewed by the CLI (worker/review_repo.py).

The module (tests/gomodules.py) imports two modules served by a file:// proxy built here;
its head revision adds a heap escape in one package, loses an inlined call in another and
drops a bounds check in a third, and leaves three packages alone. Everything is real: the
go command fetches through the proxy, go list and the compiler run in the sandbox.
"""

from __future__ import annotations

import json
import shutil

import pytest

from tests import gomodules
from tests.conftest import NEWEST_GO
from tests.test_sarif import validate as validate_sarif
from worker import review_cli, toolchains

SHOP = "example.test/shop"


@pytest.fixture(scope="module")
def shop():
    tc = toolchains.get(NEWEST_GO)
    root = gomodules.world_readable_dir("ee-shop-")
    proxy = gomodules.make_proxy(root / "proxy")
    base, head = gomodules.make_shop(root / "repo", tc.go, proxy, root / "setup-modcache")
    yield {"root": root, "repo": root / "repo", "proxy": proxy, "base": base, "head": head}
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def env(shop, monkeypatch, tmp_path):
    """The machine's go settings for the fake modules, and a module cache of this test."""
    modcache = gomodules.world_readable_dir("ee-modcache-")
    for name, value in gomodules.proxy_env(shop["proxy"], modcache).items():
        monkeypatch.setenv(name, value)
    yield {"modcache": modcache, "cache": tmp_path / "review-cache"}
    shutil.rmtree(modcache, ignore_errors=True)


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = review_cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def review_json(capsys, shop, env, *extra: str) -> tuple[int, dict, str]:
    code, out, err = run(
        capsys,
        "--repo",
        str(shop["repo"]),
        "--base",
        shop["base"],
        "--head",
        shop["head"],
        "--format",
        "json",
        "--cache-dir",
        str(env["cache"]),
        *extra,
    )
    return code, json.loads(out) if out.strip() else {}, err


def by_package(payload: dict) -> dict[str, dict]:
    return {p["package"]: p["diff"] for p in payload["packages"]}


def test_known_diff_of_two_revisions(shop, env, capsys):
    code, payload, err = review_json(capsys, shop, env)
    assert code == 0, err
    diffs = by_package(payload)
    assert set(diffs) == {f"{SHOP}/alpha", f"{SHOP}/beta", f"{SHOP}/gamma"}
    # unchanged packages are skipped, including one that imports a module through the proxy
    assert set(payload["skipped"]) == {f"{SHOP}/delta", f"{SHOP}/epsilon", f"{SHOP}/cmd/shop"}
    alpha = diffs[f"{SHOP}/alpha"]
    assert [(d["kind"], d["subject"], d["file"], d["function"]) for d in alpha["added"] if d["group"] == "heap"] == [
        ("moved-to-heap", "c", "alpha/alpha.go", f"{SHOP}/alpha.NewCounter")
    ]
    beta = diffs[f"{SHOP}/beta"]
    assert [(d["kind"], d["subject"], d["function"]) for d in beta["removed"]] == [
        ("inlining-call", "Small", f"{SHOP}/beta.Use")
    ]
    assert any(c["description"].startswith("Small is no longer inlinable") for c in beta["changed"])
    assert beta["summary"]["heap_added"] == 0
    gamma = diffs[f"{SHOP}/gamma"]
    assert [(d["kind"], d["subject"], d["file"], d["line"]) for d in gamma["removed"]] == [
        ("bounds-check", "s[0]", "gamma/gamma.go", 4)
    ]
    assert gamma["added"] == []
    assert payload["errors"] == [] and payload["failures"] == []
    # the dependency was fetched through the proxy into this test's module cache
    assert (env["modcache"] / "cache" / "download" / "example.test" / "dep" / "@v" / "v1.0.0.zip").is_file()


def test_alpha_inlines_across_modules(shop, env, capsys):
    """dep.Max is inlined into alpha from a module fetched through the proxy (its export data was built)."""
    code, payload, err = review_json(capsys, shop, env, "--all", "./alpha")
    assert code == 0, err
    (alpha,) = payload["packages"]
    assert alpha["package"] == f"{SHOP}/alpha"
    # the diff does not show what stays the same: --all on one side shows it is compared at all
    assert alpha["diff"]["summary"]["heap_added"] == 1


@pytest.mark.parametrize(
    "fail_on, hot, expected",
    [
        ("new-heap", [], 1),
        ("lost-inline", [], 1),
        ("new-bounds-check", [], 0),  # one was removed, none added
        ("new-heap", ["./gamma/..."], 0),  # no new heap allocation in the hot package
        ("new-heap", ["./alpha"], 1),
        ("lost-inline", [f"{SHOP}/beta"], 1),
    ],
)
def test_fail_on(shop, env, capsys, fail_on, hot, expected):
    extra = ["--fail-on", fail_on] + [arg for h in hot for arg in ("--hot", h)]
    code, payload, err = review_json(capsys, shop, env, *extra)
    assert code == expected, err
    assert bool(payload["failures"]) == bool(expected)
    if expected:
        assert f"fails on {fail_on}" in err


def test_second_run_reanalyses_nothing_and_a_change_reanalyses_importers(shop, env, capsys, tmp_path):
    code, first, _ = review_json(capsys, shop, env)
    assert code == 0 and first["compiled"] > 0
    code, second, _ = review_json(capsys, shop, env)
    assert code == 0
    assert second["compiled"] == 0 and second["cached"] == 6  # three packages, two sides
    assert by_package(second) == by_package(first)

    # a change in delta changes what cmd/shop (which imports it) may inline: both re-analysed
    repo = tmp_path / "repo"
    shutil.copytree(shop["repo"], repo)
    gomodules.readable(repo)
    third = gomodules.commit(
        repo,
        {
            "delta/delta.go": "package delta\n\nvar Keep []int\n\nfunc Twice(x int) int {\n\tKeep = make([]int, x)\n\treturn 2 * x\n}\n"
        },
        "d",
    )
    code, out, err = run(
        capsys, "--repo", str(repo), "--base", shop["head"], "--head", third, "--format", "json",
        "--cache-dir", str(env["cache"]),
    )  # fmt: skip
    assert code == 0, err
    payload = json.loads(out)
    assert {p["package"] for p in payload["packages"]} == {f"{SHOP}/delta", f"{SHOP}/cmd/shop"}
    delta = by_package(payload)[f"{SHOP}/delta"]
    assert [d["subject"] for d in delta["added"] if d["group"] == "heap"] == ["make([]int, x)"]
    assert f"{SHOP}/alpha" in payload["skipped"]


def test_sarif_of_the_module(shop, env, capsys):
    code, out, err = run(
        capsys, "--repo", str(shop["repo"]), "--base", shop["base"], "--head", shop["head"], "--format", "sarif",
        "--cache-dir", str(env["cache"]),
    )  # fmt: skip
    assert code == 0, err
    log = json.loads(out)
    validate_sarif(log)
    results = log["runs"][0]["results"]
    assert results
    head_files = {str(p.relative_to(shop["repo"])) for p in shop["repo"].rglob("*.go")}
    uris = set()
    for r in results:
        assert r["properties"]["package"].startswith(SHOP + "/")
        for loc in r["locations"]:
            artifact = loc["physicalLocation"]["artifactLocation"]
            uri = artifact["uri"]
            assert artifact["uriBaseId"] == "SRCROOT"
            assert not uri.startswith("/") and ".." not in uri.split("/") and "://" not in uri
            assert uri in head_files  # relative to the module root, a file of the head revision
            uris.add(uri)
    assert "alpha/alpha.go" in uris
    new_heap = [r for r in results if r["ruleId"] == "moved-to-heap"]
    assert [(r["level"], r["properties"]["change"]) for r in new_heap] == [("warning", "added")]
    assert log["runs"][0]["properties"]["moduleRoot"] == ""


def test_markdown_and_text(shop, env, capsys):
    args = [
        "--repo",
        str(shop["repo"]),
        "--base",
        shop["base"],
        "--head",
        shop["head"],
        "--cache-dir",
        str(env["cache"]),
    ]
    code, md, _ = run(capsys, *args, "--format", "markdown")
    assert code == 0
    assert "### Compiler decisions" in md
    assert f"#### `{SHOP}/alpha`" in md and "`moved to heap: c`" in md
    assert "Unchanged, not analysed" in md and f"`{SHOP}/delta`" in md
    code, text, _ = run(capsys, *args)
    assert code == 0
    assert f"== {SHOP}/gamma (changed) ==" in text and "Found IsInBounds (s[0])" in text


def test_without_a_proxy_imports_of_other_modules_are_refused(shop, env, capsys, monkeypatch):
    monkeypatch.setenv("GOPROXY", "off")
    code, payload, err = review_json(capsys, shop, env)
    assert code == 2
    assert "example.test/dep@v1.0.0" in err and "no module proxy is configured" in err


def test_a_module_that_cannot_be_fetched_is_named(shop, env, capsys, tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(shop["repo"], repo)
    gomodules.readable(repo)
    go_mod = gomodules.GO_MOD + "\nrequire example.test/missing v0.3.0\n"
    broken = gomodules.commit(repo, {"go.mod": go_mod}, "requires a module the proxy lacks")
    code, out, err = run(
        capsys, "--repo", str(repo), "--base", shop["head"], "--head", broken, "--cache-dir", str(env["cache"])
    )
    assert code == 2
    assert "example.test/missing@v0.3.0 could not be fetched" in err


def test_unknown_fail_on_and_bad_revision(shop, env, capsys):
    code, _, err = run(capsys, "--repo", str(shop["repo"]), "--base", shop["base"], "--fail-on", "new-heap,bogus")
    assert code == 2 and "unknown bogus" in err
    code, _, err = run(capsys, "--repo", str(shop["repo"]), "--base", "no-such-rev", "--no-cache")
    assert code == 2 and "no-such-rev" in err


def test_module_in_a_subdirectory(env, capsys, tmp_path):
    """A repository whose module lives in go/: paths stay relative to the module root."""
    repo = tmp_path / "mono"
    gomodules.init_repo(repo)
    gomodules.commit(
        repo,
        {
            "README": "x\n",
            "go/go.mod": "module example.test/mono\n\ngo 1.22\n",
            "go/p/p.go": "package p\n\nfunc F() {}\n",
        },
        "base",
    )
    gomodules.commit(
        repo, {"go/p/p.go": "package p\n\nvar sink *int\n\nfunc F() {\n\tx := 1\n\tsink = &x\n}\n"}, "head"
    )
    gomodules.readable(repo)
    code, out, err = run(
        capsys, "--repo", str(repo / "go"), "--base", "HEAD~1", "--head", "HEAD", "--format", "sarif", "--no-cache"
    )
    assert code == 0, err
    log = json.loads(out)
    validate_sarif(log)
    uris = {
        loc["physicalLocation"]["artifactLocation"]["uri"] for r in log["runs"][0]["results"] for loc in r["locations"]
    }
    assert uris == {"p/p.go"}
    assert log["runs"][0]["properties"]["moduleRoot"] == "go"


def test_patterns_limit_the_packages(shop, env, capsys):
    code, payload, err = review_json(capsys, shop, env, "./gamma/...", "./delta")
    assert code == 0, err
    assert {p["package"] for p in payload["packages"]} == {f"{SHOP}/gamma"}
    assert payload["skipped"] == [f"{SHOP}/delta"]


def test_bad_pattern_is_refused(shop, env, capsys):
    code, _, err = run(capsys, "--repo", str(shop["repo"]), "--base", shop["base"], "--no-cache", "./a;b")
    assert code == 2 and "not a pattern" in err


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_through_a_server(shop, capsys, live_server_url):
    """--server: the same review compiled by the server's workers (their proxy serves the same modules)."""
    args = ["--repo", str(shop["repo"]), "--base", shop["base"], "--head", shop["head"], "--server", live_server_url]
    code, out, err = run(capsys, *args, "--format", "json", "--fail-on", "new-heap,lost-inline")
    assert code == 1, err
    payload = json.loads(out)
    diffs = by_package(payload)
    assert set(diffs) == {f"{SHOP}/alpha", f"{SHOP}/beta", f"{SHOP}/gamma"}
    assert set(payload["skipped"]) == {f"{SHOP}/delta", f"{SHOP}/epsilon", f"{SHOP}/cmd/shop"}
    assert [d["subject"] for d in diffs[f"{SHOP}/alpha"]["added"] if d["group"] == "heap"] == ["c"]
    assert [d["subject"] for d in diffs[f"{SHOP}/beta"]["removed"]] == ["Small"]
    assert [d["subject"] for d in diffs[f"{SHOP}/gamma"]["removed"]] == ["s[0]"]
    assert {f.split(":")[0] for f in payload["failures"]} == {"new-heap", "lost-inline"}
    code, out, err = run(capsys, *args, "--format", "sarif")
    assert code == 0, err
    validate_sarif(json.loads(out))


def test_importers_none_direct_all(env, capsys, tmp_path):
    """A change in a leaf: none analyses it alone, direct adds its importers, all the importers' importers too."""
    repo = tmp_path / "chain"
    gomodules.init_repo(repo)
    files = {
        "go.mod": "module example.test/chain\n\ngo 1.22\n",
        "leaf/leaf.go": "package leaf\n\nfunc F() int { return 1 }\n",
    }
    files["mid/mid.go"] = 'package mid\n\nimport "example.test/chain/leaf"\n\nfunc G() int { return leaf.F() }\n'
    files["top/top.go"] = 'package top\n\nimport "example.test/chain/mid"\n\nfunc H() int { return mid.G() }\n'
    files["other/other.go"] = "package other\n\nfunc X() {}\n"
    gomodules.commit(repo, files, "base")
    gomodules.commit(
        repo,
        {"leaf/leaf.go": "package leaf\n\nvar k *int\n\nfunc F() int {\n\tx := 1\n\tk = &x\n\treturn x\n}\n"},
        "head",
    )
    gomodules.readable(repo)
    seen = {}
    for importers in ("none", "direct", "all"):
        code, out, err = run(
            capsys, "--repo", str(repo), "--base", "HEAD~1", "--format", "json", "--no-cache", "--importers", importers
        )
        assert code == 0, err
        payload = json.loads(out)
        seen[importers] = {p["package"].removeprefix("example.test/chain/") for p in payload["packages"]}
        assert "example.test/chain/other" in payload["skipped"]
    assert seen == {"none": {"leaf"}, "direct": {"leaf", "mid"}, "all": {"leaf", "mid", "top"}}


def test_a_package_that_does_not_compile_is_named(shop, env, capsys, tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(shop["repo"], repo)
    gomodules.readable(repo)
    broken = gomodules.commit(
        repo, {"gamma/gamma.go": "package gamma\n\nfunc First(s []int) int {\n\treturn s[\n}\n"}, "x"
    )
    args = ["--repo", str(repo), "--base", shop["head"], "--head", broken, "--cache-dir", str(env["cache"])]
    code, out, err = run(capsys, *args, "--format", "sarif")
    assert code == 2
    assert "gamma/gamma.go:5:1: syntax error" in err
    log = json.loads(out)
    validate_sarif(log)
    (invocation,) = log["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False
    assert any("gamma/gamma.go:5:" in n["message"]["text"] for n in invocation["toolExecutionNotifications"])
