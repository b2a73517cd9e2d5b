import dataclasses

from worker.analysis import Analysis
from worker.compiler import CompileRequest, compile_request
from worker.inputs import split_files


def test_analysis_round_trips_through_plain_dicts():
    src = "package main\n\nfunc f() *int {\n\tx := 1\n\treturn &x\n}\n\nfunc main() { println(*f()) }\n"
    analysis = compile_request(CompileRequest(split_files(src)))
    as_dict = analysis.to_dict()
    # The engine's hand-over fields (a leading underscore) are no part of it.
    assert as_dict == {k: v for k, v in dataclasses.asdict(analysis).items() if not k.startswith("_")}
    assert "_raw_output_gz" in dataclasses.asdict(analysis)
    assert Analysis.from_dict(as_dict) == analysis
    assert any(d["kind"] == "moved-to-heap" and d["flow"] for d in as_dict["diagnostics"])
