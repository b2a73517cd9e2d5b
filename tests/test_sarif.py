"""SARIF export, validated against the SARIF 2.1.0 JSON schema.

tests/data/sarif-2.1.0-schema.json is the schema file shipped in the npm package
@microsoft/jest-sarif@1.0.0-beta.0 (lib/schemas/sarif-2.1.0-rtm.5.json, MIT; the
schemastore.org copy of the SARIF 2.1.0 schema), copied unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from worker.analysis import SourceFile
from worker.compiler import CompileRequest, compile_request
from worker.sarif import FINGERPRINT, to_sarif

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-2.1.0-schema.json").read_text())

PROGRAM = """package main

type T struct{ a, b int }

func newT() *T {
	t := T{1, 2}
	return &t
}

var sink *T

func store(p *T) { sink = p }

func sum(s []int) int { return s[0] + s[1] }

func main() {
	store(newT())
	println(sum([]int{1, 2}), "größe")
}
"""


def analyse(source: str):
    return compile_request(CompileRequest([SourceFile("main.go", source)]))


def validate(log: dict) -> None:
    jsonschema.Draft4Validator.check_schema(SCHEMA)
    jsonschema.Draft4Validator(SCHEMA).validate(log)


def test_a_compilation_is_a_valid_sarif_log_with_a_result_per_decision():
    analysis = analyse(PROGRAM)
    log = to_sarif(analysis, source_url="https://example.test/s/abc")
    validate(log)
    assert log["version"] == "2.1.0"
    run = log["runs"][0]
    rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
    results = run["results"]
    compared = [d for d in analysis.diagnostics if d.kind not in ("escape-flow", "other")]
    assert len(results) == len(compared)
    assert {r["ruleId"] for r in results} == set(rules)
    assert all(rules[r["ruleIndex"]] == r["ruleId"] for r in results)
    moved = next(r for r in results if r["ruleId"] == "moved-to-heap" and r["message"]["text"] == "moved to heap: t")
    region = moved["locations"][0]["physicalLocation"]["region"]
    assert moved["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "main.go"
    assert (region["startLine"], region["startColumn"]) == (6, 2)
    assert moved["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "main.newT"
    assert moved["level"] == "warning"
    assert moved["codeFlows"][0]["threadFlows"][0]["locations"], "the escape flow comes along"
    bounds = [r for r in results if r["ruleId"] == "bounds-check"]
    assert {r["properties"]["subject"] for r in bounds} >= {"s[0]", "s[1]"}
    assert run["properties"]["permalink"] == "https://example.test/s/abc"


def test_fingerprints_follow_the_decision_not_the_line():
    moved = PROGRAM.replace("func sum(s []int) int { return s[0] + s[1] }\n\n", "") + (
        "\nfunc sum(s []int) int { return s[0] + s[1] }\n"
    )
    prints = [
        sorted(r["partialFingerprints"][FINGERPRINT] for r in to_sarif(analyse(p))["runs"][0]["results"])
        for p in (PROGRAM, moved)
    ]
    assert prints[0] == prints[1]


@pytest.mark.parametrize(
    "source",
    [
        "package main\n\nfunc main() { undefined() }\n",  # a compile error is a result too
        'package main\n\nimport "example.com/nope"\n\nfunc main() { nope.X() }\n',
    ],
)
def test_failed_compilations_are_valid_sarif_too(source):
    analysis = analyse(source)
    assert analysis.status == "compile-error"
    log = to_sarif(analysis)
    validate(log)
    assert any(r["level"] == "error" for r in log["runs"][0]["results"])


def test_columns_count_code_points_not_bytes():
    source = 'package main\n\nfunc f(s []string) string { return "ü" + s[1] }\n\nfunc main() { println(f(nil)) }\n'
    log = to_sarif(analyse(source))
    validate(log)
    check = next(r for r in log["runs"][0]["results"] if r["ruleId"] == "bounds-check")
    line = source.splitlines()[2]
    assert check["locations"][0]["physicalLocation"]["region"]["startColumn"] == line.index("[1]") + 1
