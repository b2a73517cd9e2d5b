"""Compiler flags and build settings (worker/flags.py): the allow-list, what they do to a
real compile, the messages they add (classified), and the API, pages and permalinks that
carry them. Real compilers throughout."""

from __future__ import annotations

import pytest

from tests.conftest import NEWEST_GO, OLDEST_GO
from tests.httpclient import compile_and_wait, request
from worker.analysis import SourceFile
from worker.compiler import CompileRequest, compile_request
from worker.flags import BuildOptions, build_options, check_env, check_flags, parse_env_text
from worker.inputs import InvalidInput

PROGRAM = """package main

import "fmt"

type T struct{ a [4]int }

func sum(s []int) int {
	t := 0
	for i := 0; i < len(s); i++ {
		t += s[i]
	}
	return t
}

func newT() *T { return &T{} }

func d() (r int) {
	defer func() { r++ }()
	return 1
}

func main() {
	s := make([]int, 10)
	fmt.Println(sum(s), newT(), d())
}
"""


def analyse(flags=(), env=None, go=NEWEST_GO, groups=("escape", "inline")) -> dict:
    options = build_options(list(flags), env, "amd64")
    request = CompileRequest([SourceFile("main.go", PROGRAM)], go=go, groups=tuple(groups), options=options)
    return compile_request(request).to_dict()


def kinds(analysis: dict) -> set[str]:
    return {d["kind"] for d in analysis["diagnostics"]}


# --- the allow-list ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "flag",
    [
        "-l",
        "-l=4",
        "-N",
        "-m",
        "-m=3",
        "-B",
        "-smallframes",
        "-spectre=index",
        "-live",
        "-d=escapedebug=1",
        "-d=ssa/prove/debug=1",
        "-d=defer,closure=1",
        "-d=loopvar=2",
        "-d=checkptr=2",
        "-d=variablemakethreshold=64",
    ],
)
def test_allowed_flags_pass_as_they_are(flag):
    assert check_flags([flag]) == (flag,)


@pytest.mark.parametrize(
    "flag",
    [
        "-race",
        "-o=/etc/passwd",
        "-importcfg=/x",
        "-d=bogus=1",
        "-d=escapedebug=9",
        "-l=5",
        "-m=9",
        "-trimpath",
        "-d=escapedebug=1\n",
        "-ｌ",
        "-d=" + "a" * 200,
        "-S",
        "-json=0,file:///tmp",
        "-D=/x",
        "-p=evil",
        "",
    ],
)
def test_other_flags_are_refused_naming_the_allowed_set(flag):
    with pytest.raises(InvalidInput) as refused:
        check_flags([flag])
    assert "Allowed:" in str(refused.value) or "does not take" in str(refused.value)


def test_flags_are_bounded_and_deduplicated():
    assert check_flags(["-l", "-N", "-l"]) == ("-l", "-N")
    with pytest.raises(InvalidInput, match="At most 16 flags"):
        check_flags(["-l"] * 17)


def test_build_settings_are_checked_per_goarch_and_defaults_dropped():
    assert check_env({"GOAMD64": "v3"}, "amd64") == (("GOAMD64", "v3"),)
    assert check_env({"GOAMD64": "v1"}, "amd64") == ()  # the default: nothing asked
    with pytest.raises(InvalidInput, match="applies to GOARCH amd64"):
        check_env({"GOAMD64": "v3"}, "arm64")
    with pytest.raises(InvalidInput, match="not allowed"):
        check_env({"GOAMD64": "v5"}, "amd64")
    with pytest.raises(InvalidInput, match="Allowed: GOAMD64"):
        check_env({"GOROOT": "/"}, "amd64")
    with pytest.raises(InvalidInput, match="NAME=value"):
        parse_env_text("GOAMD64")


# --- what they do, on the real compilers ---------------------------------------------------


@pytest.mark.parametrize("go", [OLDEST_GO, NEWEST_GO])
def test_no_inlining_with_l(go):
    plain, no_inline = analyse(go=go), analyse(["-l"], go=go)
    assert "inlining-call" in kinds(plain) and "inlining-call" not in kinds(no_inline)
    # without inlining newT's T is returned to main through a real call: it moves to the heap
    assert any(d["kind"] == "escapes-to-heap" and d["line"] == 15 for d in no_inline["diagnostics"])


def test_flag_output_is_classified_never_dropped():
    result = analyse(["-l", "-d=ssa/prove/debug=1", "-d=defer=1", "-d=closure=1", "-live"], groups=("escape",))
    found = kinds(result)
    assert {"prove", "defer", "closure", "liveness"} <= found
    proved = [d for d in result["diagnostics"] if d["kind"] == "prove" and d["details"].get("op") == "IsInBounds"]
    assert proved and proved[0]["line"] == 10 and proved[0]["message"] == "Proved IsInBounds"
    defer = next(d for d in result["diagnostics"] if d["kind"] == "defer")
    assert defer["details"]["how"] == "open-coded" and defer["line"] == 18


def test_m_of_the_user_wins_over_the_engines():
    flows = [d for d in analyse()["diagnostics"] if d["flow"]]
    assert flows and not [d for d in analyse(["-m=1"])["diagnostics"] if d["flow"]]


def test_a_flag_the_toolchain_does_not_know_gets_the_compilers_own_message():
    result = analyse(["-d=escapedebug=1"], go=OLDEST_GO)  # escapedebug is newer than 1.21
    assert result["status"] == "compile-error"
    assert result["errors"] == ['invalid value "escapedebug=1" for flag -d: unknown debug key escapedebug']


def test_a_build_setting_needs_its_standard_library():
    with pytest.raises(InvalidInput, match="--env GOAMD64=v4"):
        analyse(env={"GOAMD64": "v4"})
    v3 = analyse(env={"GOAMD64": "v3"}, groups=("asm",))  # prepared by scripts/setup.sh --test
    assert v3["status"] == "ok" and v3["functions"]


def test_build_options_are_hashable_and_describe_themselves():
    options = BuildOptions(("-l",), (("GOAMD64", "v3"),))
    assert options.describe() == "-l GOAMD64=v3" and options.variant == "GOAMD64=v3" and bool(options)
    assert not BuildOptions()


# --- API, pages, permalinks -----------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_flags_through_the_api_are_part_of_the_permalink(live_server_url):
    plain = compile_and_wait(live_server_url, {"source": PROGRAM})
    with_l = compile_and_wait(live_server_url, {"source": PROGRAM, "flags": ["-l"], "env": {"GOAMD64": "v3"}})
    assert with_l["id"] != plain["id"] and with_l["status"] == "done"
    assert with_l["flags"] == ["-l"] and with_l["env"] == {"GOAMD64": "v3"} and plain["flags"] == []
    assert not [d for d in with_l["diagnostics"] if d["kind"] == "inlining-call"]
    status, page = request("GET", with_l["url"])
    assert status == 200 and "flags <code>-l</code>" in page and "GOAMD64=v3" in page
    # the same flags again: the same permalink, not compiled twice
    status, again = request(
        "POST", f"{live_server_url}/api/v1/compile", {"source": PROGRAM, "flags": ["-l"], "env": {"GOAMD64": "v3"}}
    )
    assert status == 200 and again["id"] == with_l["id"]
    # a compare of the two: inlining went away
    status, diff = request("GET", f"{live_server_url}/api/v1/compare?a={plain['id']}&b={with_l['id']}")
    assert status == 200 and any(d["kind"] == "inlining-call" for d in diff["removed"])


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"flags": ["-race"]}, "Allowed:"),
        ({"flags": "-l"}, "flags"),
        ({"flags": ["-l"] * 17}, "flags"),
        ({"env": {"GOAMD64": "v9"}}, "GOAMD64"),
        ({"env": {"GOAMD64": "v3"}, "goarch": "arm64"}, "applies to GOARCH amd64"),
        ({"env": {"GOAMD64": "v4"}}, "not prepared"),
        ({"env": {"PATH": "/"}}, "Allowed: GOAMD64"),
    ],
)
def test_bad_flags_and_settings_are_a_400_naming_what_is_allowed(live_server_url, payload, fragment):
    from explorer.models import Compilation

    status, body = request("POST", f"{live_server_url}/api/v1/compile", {"source": PROGRAM, **payload})
    assert status == 400 and fragment in body["error"], body
    assert Compilation.objects.count() == 0


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_the_flags_list_and_the_page_field(live_server_url):
    status, listing = request("GET", f"{live_server_url}/api/v1/flags")
    assert status == 200 and {"-l", "-N", "-m"} <= {f["flag"] for f in listing["flags"]}
    assert "escapedebug" in {d["key"] for d in listing["debug"]} and "GOAMD64" in {e["name"] for e in listing["env"]}
    status, page = request("GET", f"{live_server_url}/")
    assert status == 200 and 'name="flags"' in page and 'name="env"' in page and 'list="flag-choices"' in page
    status, kinds_page = request("GET", f"{live_server_url}/kinds")
    assert 'id="flags"' in kinds_page and "-d=escapedebug=N" in kinds_page
    status, toolchains = request("GET", f"{live_server_url}/api/v1/toolchains")
    newest = next(t for t in toolchains["toolchains"] if t["version"] == NEWEST_GO)
    assert "GOAMD64=v3" in newest["variants"]["amd64"]


def test_the_review_cli_compares_a_program_without_and_with_a_flag(tmp_path, capsys):
    from worker.review_cli import main

    (tmp_path / "p.go").write_text(PROGRAM)
    assert main([str(tmp_path / "p.go"), str(tmp_path / "p.go"), "--flags=", "--flags=-l", "--format", "text"]) == 0
    out = capsys.readouterr().out
    assert "after:  Go 1.27.3 · amd64 · go1.27 · -l" in out and "inlining call to newT" in out
