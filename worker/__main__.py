"""python -m worker path/to/file.go [--go 1.27.3] [--goarch amd64] [--lang go1.22] [--flag=-l] [--env GOAMD64=v3] [--measure]

The engine's own front door: prints the analysis as JSON, without Django, Redis or a
database. A txtar file (-- name.go -- sections) or several .go files of one package
may be given. With --measure, the program's benchmarks (or its main) are also built and run
in the run sandbox (worker/measure.py) and the JSON gains "measurements". Exit status: 0
compiled (and, with --measure, ran), 1 compile error, limit or failed run, 2 bad input.

With --check-directives it prints the //gcassert: directives of the code instead, one
line each (worker/directives.py), and exits 1 when one is violated (or unknown).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import directive_report
from .analysis import SourceFile
from .compiler import DIAGNOSTIC_GROUPS, CompileRequest, compile_request
from .flags import build_options, parse_env_text
from .inputs import InvalidInput, decode_source, split_files


def read_files(paths: list[str]) -> list[SourceFile]:
    if len(paths) == 1 and paths[0] == "-":
        return split_files(decode_source(sys.stdin.buffer.read()))
    if len(paths) == 1:
        return split_files(decode_source(Path(paths[0]).read_bytes()))
    files = []
    for p in paths:
        files.append(SourceFile(Path(p).name, decode_source(Path(p).read_bytes())))
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m worker", description="Analyse Go code with the compiler; print JSON."
    )
    parser.add_argument("paths", nargs="+", help="a .go file, a txtar archive, several .go files, or - for stdin")
    parser.add_argument("--go", help="toolchain version (default: newest installed)")
    parser.add_argument("--goarch", default="amd64")
    parser.add_argument("--lang", help="language version, e.g. go1.21 (default: the toolchain's own)")
    parser.add_argument("--groups", help=f"comma-separated subset of {','.join(DIAGNOSTIC_GROUPS)}")
    parser.add_argument(
        "--flag",
        action="append",
        default=[],
        help="a compiler flag to add (repeatable): -l, -N, -m=N, -B, -d=escapedebug=1, … (worker/flags.py)",
    )
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="a build setting, e.g. GOAMD64=v3"
    )
    parser.add_argument(
        "--measure", action="store_true", help="also run the benchmarks (or main) and count allocations per line"
    )
    parser.add_argument("--benchtime", default="100ms", help="with --measure: -test.benchtime (default 100ms)")
    parser.add_argument("--indent", type=int, default=2)
    parser.add_argument(
        "--check-directives",
        action="store_true",
        help="print the //gcassert: directives and whether each held; exit 1 on a violated or unknown one",
    )
    args = parser.parse_args(argv)
    try:
        files = read_files(args.paths)
        groups = tuple(args.groups.split(",")) if args.groups else DIAGNOSTIC_GROUPS
        options = build_options(args.flag, parse_env_text(" ".join(args.env)), args.goarch)
        request = CompileRequest(files, go=args.go, goarch=args.goarch, lang=args.lang, groups=groups, options=options)
        analysis = compile_request(request)
        measurements = None
        if args.measure:
            from .measure import MeasureRequest, measure

            measurements = measure(
                MeasureRequest(
                    files, go=args.go, goarch=args.goarch, lang=args.lang, options=options, benchtime=args.benchtime
                )
            )
    except (InvalidInput, OSError) as exc:
        print(json.dumps({"status": "invalid-input", "errors": [str(exc)]}, indent=args.indent))
        return 2
    if args.check_directives:
        for result in analysis.directives:
            print(directive_report.format_line(result))
        if analysis.status != "ok":
            print(f"the program did not compile ({analysis.status}): {'; '.join(analysis.errors)}", file=sys.stderr)
            return 1
        if not analysis.directives:
            print("no //gcassert: directives found")
        return 1 if directive_report.violations(analysis.directives) else 0
    output = analysis.to_dict()
    if measurements is not None:
        output["measurements"] = measurements
    print(json.dumps(output, indent=args.indent, ensure_ascii=False))
    ok = analysis.status == "ok" and (measurements is None or measurements["status"] == "ok")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
