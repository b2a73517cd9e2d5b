"""The Go project's errorcheck tests through the explorer and through the raw compiler.

    .venv/bin/python scripts/errorcheck.py /tmp/gotest [--go 1.27.3] [-v] [--json out.json] [PATTERN ...]

DIR is a copy of the Go repository's test/ folder (or any folder of errorcheck files);
PATTERNs select its files (default: escape*.go inline*.go). For each file: its
expectations, how many the raw compiler meets, how many the explorer meets, and every
expectation the raw compiler meets that the explorer misses (with what the explorer
printed at that line); then the totals. ``-v`` also lists what the raw compiler misses
and what only the explorer meets. Exit status 1 when the explorer misses anything the
raw compiler meets. The rules are tests/errorcheck.py's.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import errorcheck  # noqa: E402
from tests.conftest import NEWEST_GO  # noqa: E402


def as_json(results: list[errorcheck.FileResult]) -> dict:
    files = []
    for r in results:
        files.append(
            {
                "file": r.name,
                "flags": list(r.header.flags) if r.header else [],
                "skipped": r.skipped,
                "refused": r.refused,
                "expectations": len(r.expectations),
                "raw_met": r.count(r.raw_met),
                "explorer_met": r.count(r.explorer_met),
                "gaps": [
                    {
                        "line": r.expectations[i].line,
                        "regexp": r.expectations[i].regexp,
                        "explorer_printed": errorcheck.messages_at(r.explorer_messages, r.name, r.expectations[i].line),
                    }
                    for i in r.gaps
                ],
                "explorer_only": [
                    {"line": r.expectations[i].line, "regexp": r.expectations[i].regexp} for i in r.explorer_only
                ],
            }
        )
    return {
        "version": results[0].version if results else "",
        "totals": asdict(errorcheck.totals(results)),
        "files": files,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path, help="a copy of the Go repository's test/ folder")
    parser.add_argument("patterns", nargs="*", help="file name patterns (default: escape*.go inline*.go)")
    parser.add_argument("--go", default=NEWEST_GO, help=f"toolchain version (default {NEWEST_GO})")
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    args = parser.parse_args(argv)
    patterns = tuple(args.patterns) or errorcheck.GO_TEST_PATTERNS
    results = errorcheck.check_directory(
        args.directory, args.go, patterns, progress=lambda r: print(f"  {r.name}", file=sys.stderr)
    )
    print(f"Go {args.go}, {args.directory} ({' '.join(patterns)})")
    print(errorcheck.format_report(results, verbose=args.verbose))
    if args.json:
        args.json.write_text(json.dumps(as_json(results), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 1 if errorcheck.totals(results).gaps else 0


if __name__ == "__main__":
    raise SystemExit(main())
