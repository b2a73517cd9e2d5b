"""python -m worker.review_cli BEFORE AFTER [--format text|markdown|json] [--fail-on-new-heap]
   python -m worker.review_cli --repo DIR --base REV [--head REV] [PATTERN …] [--format …|sarif] [--fail-on …]

Compare what the Go compiler decided about two versions of the same code: two files
(a .go file or a txtar archive each) or two package directories (for example the same
package at two git revisions checked out side by side). Both sides are compiled with
the same engine, locally (the toolchains of this machine) or by a server (--server URL,
through its JSON API), and diffed by worker.compare.

--go, --goarch and --lang take one value (both sides) or two (before, after), so one
program can also be compared under two Go versions, GOARCHes or language versions:

    python -m worker.review_cli main.go main.go --go 1.21.13 --go 1.27.3

With --check-directives the after side's //gcassert: directives (worker/directives.py)
are checked too: each violated one is reported with the compiler's reason (after the
diff; in the JSON as "directives", in the Markdown as a section), and any violation
exits 1.

With --repo, two git revisions of a Go module are compared package by package
(worker/review_repo.py).

Exit status: 0 the diff was printed; 1 --fail-on-new-heap and the after side has new
heap allocations (with --repo: anything --fail-on names), or --check-directives and a
directive is violated; 2 bad input, a side that did not compile, or the server failed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from . import directive_report, review_repo
from .analysis import Analysis, SourceFile
from .compare import compare
from .compiler import CompileRequest, compile_request
from .flags import build_options, parse_flag_text
from .inputs import InvalidInput, decode_source, join_files, split_files
from .review import Links, diff_payload, render_markdown, render_text

EXIT_OK, EXIT_NEW_HEAP, EXIT_ERROR = 0, 1, 2
EXIT_DIRECTIVE_VIOLATED = 1
FORMATS = ("text", "markdown", "json")


class ReviewError(RuntimeError):
    """A problem worth one line on stderr and exit status 2."""


@dataclass(frozen=True)
class Settings:
    go: str | None
    goarch: str
    lang: str | None
    flags: tuple[str, ...] = ()  # compiler flags of that side (worker/flags.py)


@dataclass
class Compiled:
    analysis: Analysis
    id: str = ""  # the compilation's id when a server compiled it
    url: str = ""  # its permalink


# --- inputs ----------------------------------------------------------------------------


def read_side(path: Path) -> list[SourceFile]:
    """A directory's non-test .go files, or one file (plain Go or a txtar archive)."""
    if path.is_dir():
        names = sorted(p for p in path.glob("*.go") if not p.name.endswith("_test.go"))
        if not names:
            raise InvalidInput(f"{path} holds no .go files (test files are skipped).")
        return [SourceFile(p.name, decode_source(p.read_bytes())) for p in names]
    if not path.is_file():
        raise InvalidInput(f"{path} is neither a file nor a directory.")
    return split_files(decode_source(path.read_bytes()))


def per_side(values: list[str] | None, default: str | None) -> tuple[str | None, str | None]:
    if not values:
        return default, default
    if len(values) > 2:
        raise InvalidInput(f"give at most two values (before, after), not {len(values)}: {', '.join(values)}")
    return values[0], values[-1]


# --- compiling -------------------------------------------------------------------------


def compile_locally(files: list[SourceFile], settings: Settings) -> Compiled:
    options = build_options(list(settings.flags), None, settings.goarch)
    request = CompileRequest(files, go=settings.go, goarch=settings.goarch, lang=settings.lang, options=options)
    return Compiled(compile_request(request))


class Busy(Exception):
    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = max(1, retry_after)


@dataclass
class Server:
    """The JSON API of a running Escape Explorer: POST /api/v1/compile, GET /api/v1/compilations/<id>."""

    base: str
    timeout: float = 120.0
    token: str = ""  # an API token of that server (EXPLORER_TOKEN): a client of its own, larger limits

    def compile(self, files: list[SourceFile], settings: Settings) -> Compiled:
        request = {"source": join_files(files), "goarch": settings.goarch, "wait": 10}
        request |= {k: v for k, v in (("go", settings.go), ("lang", settings.lang)) if v}
        if settings.flags:
            request["flags"] = list(settings.flags)
        submitted = self._call("POST", "/api/v1/compile", request)
        deadline = time.monotonic() + self.timeout
        delay = 0.1
        while True:
            result = self._call("GET", f"/api/v1/compilations/{urllib.parse.quote(submitted['id'])}")
            if result["status"] in ("done", "failed"):
                return Compiled(analysis_from_api(result), result["id"], result.get("url", ""))
            if time.monotonic() > deadline:
                raise ReviewError(f"the server gave no result for {submitted['id']} within {self.timeout:g} s")
            time.sleep(delay)
            delay = min(delay * 1.5, 1.0)

    def _call(self, method: str, path: str, payload: dict | None = None) -> dict:
        """One API call; a 429 or 503 is waited out (its Retry-After) until the timeout."""
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                return self._call_once(method, path, payload)
            except Busy as busy:
                if time.monotonic() + busy.retry_after > deadline:
                    raise ReviewError(str(busy)) from None
                time.sleep(busy.retry_after)

    def _call_once(self, method: str, path: str, payload: dict | None = None) -> dict:
        data = json.dumps(payload).encode() if payload is not None else None
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(self.base.rstrip("/") + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return json.loads(resp.read().decode())
        except urllib.error.HTTPError as err:
            body = err.read().decode(errors="replace")
            try:
                message = json.loads(body).get("error", body)
            except (json.JSONDecodeError, AttributeError):
                message = body
            text = f"{method} {path}: HTTP {err.code}: {message.strip()[:500]}"
            if err.code in (429, 503) and (err.headers.get("Retry-After") or "").isdigit():
                raise Busy(text, min(int(err.headers["Retry-After"]), 60)) from None
            raise ReviewError(text) from None
        except (urllib.error.URLError, TimeoutError, json.JSONDecodeError) as err:
            raise ReviewError(f"{method} {self.base}{path}: {err}") from None


def analysis_from_api(payload: dict) -> Analysis:
    """GET /api/v1/compilations/<id> -> the Analysis it carries."""
    status = payload.get("result") or ("internal-error" if payload["status"] == "failed" else "ok")
    return Analysis.from_dict(
        {
            "go": payload.get("go", ""),
            "goarch": payload.get("goarch", ""),
            "lang": payload.get("lang", ""),
            # what was compiled: a txtar's go.mod or notes come with "compiled": false
            "files": [
                {"name": f["name"], "text": f["text"]} for f in payload.get("files", []) if f.get("compiled", True)
            ],
            "diagnostics": payload.get("diagnostics", []),
            "functions": payload.get("functions", []),
            "errors": payload.get("errors", []),
            "status": status,
            "toolchain": payload.get("toolchain", ""),
            "directives": payload.get("directives", []),
        }
    )


def compare_url(base: str, a: str, b: str) -> str:
    """The compare permalink /c/<a>/<b> of a server whose pages are at ``base``."""
    return f"{base.rstrip('/')}/c/{a}/{b}"


# --- main ------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m worker.review_cli",
        description="Diff the Go compiler's decisions (escapes, inlining, checks, barriers, frames) between two versions.",
    )
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="BEFORE AFTER | PATTERN",
        help="two versions: a .go file, a txtar archive or a package directory each; "
        "with --repo, package patterns as go takes them (default ./...)",
    )
    parser.add_argument("--format", choices=FORMATS + ("sarif",), default="text", help="sarif: with --repo only")
    parser.add_argument("--go", action="append", help="toolchain version; once for both sides or twice (before, after)")
    parser.add_argument("--goarch", action="append", help="GOARCH (default amd64); once or twice")
    parser.add_argument("--lang", action="append", help="language version, e.g. go1.21; once or twice")
    parser.add_argument(
        "--flags",
        action="append",
        help='compiler flags, e.g. "-l -d=escapedebug=1"; once for both sides or twice (before, after: "" for none)',
    )
    parser.add_argument("--server", metavar="URL", help="compile on this Escape Explorer server instead of locally")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for a server's result")
    parser.add_argument(
        "--token",
        default=os.environ.get("EXPLORER_TOKEN", ""),
        help="the server's API token (default: $EXPLORER_TOKEN); busy answers are waited out either way",
    )
    parser.add_argument(
        "--fail-on-new-heap",
        action="store_true",
        help="exit 1 when the after side has heap allocations the before side lacks",
    )
    parser.add_argument(
        "--check-directives",
        action="store_true",
        help="check the after side's //gcassert: directives (inline, bce, noescape, noalloc): "
        "report each violated one with the compiler's reason; exit 1 on any",
    )
    add_repo_arguments(parser)
    return parser


def add_repo_arguments(parser: argparse.ArgumentParser) -> None:
    """Two git revisions of a module (worker/review_repo.py)."""
    repo = parser.add_argument_group("two git revisions of a module")
    repo.add_argument("--repo", type=Path, metavar="DIR", help="a git repository (or its subdirectory holding go.mod)")
    repo.add_argument("--base", metavar="REV", help="the revision before the change (e.g. origin/main)")
    repo.add_argument("--head", metavar="REV", default="HEAD", help="the revision after it (default HEAD)")
    repo.add_argument("--all", action="store_true", help="analyse every package, not only those that changed")
    repo.add_argument(
        "--importers",
        choices=("none", "direct", "all"),
        default="direct",
        help="also analyse the importers of changed packages: direct ones (default), all (transitively), none",
    )
    repo.add_argument(
        "--fail-on",
        metavar="WHAT,…",
        help="exit 1 on any of: " + ", ".join(review_repo.FAIL_ON),
    )
    repo.add_argument(
        "--hot",
        action="append",
        default=[],
        metavar="PATTERN",
        help="--fail-on counts only in these packages (./dir/..., import paths; repeatable or comma-separated)",
    )
    repo.add_argument(
        "--cache-dir", type=Path, help=f"analyses per package (default {review_repo.default_cache_dir()})"
    )
    repo.add_argument("--no-cache", action="store_true", help="analyse without reading or writing the cache")
    repo.add_argument("--modcache", type=Path, help="the module cache (default $GOMODCACHE, else the explorer's own)")
    repo.add_argument("--jobs", type=int, default=0, help="packages compiled at once (default: the CPUs)")


def main_repo(args: argparse.Namespace) -> int:
    """--repo DIR --base REV --head REV [PATTERN …]"""
    try:
        if not args.base:
            raise InvalidInput("--repo needs --base REV")
        fail_on = review_repo.parse_fail_on(args.fail_on)
        if args.fail_on_new_heap and "new-heap" not in fail_on:
            fail_on.append("new-heap")
        opts = review_repo.RepoOptions(
            repo=args.repo,
            base=args.base,
            head=args.head,
            patterns=args.paths or ["./..."],
            all_packages=args.all,
            go=(args.go or [None])[-1],
            goarch=(args.goarch or ["amd64"])[-1],
            lang=(args.lang or [None])[-1],
            options=build_options(parse_flag_text((args.flags or [""])[-1]), None, (args.goarch or ["amd64"])[-1]),
            cache_dir=None if args.no_cache else (args.cache_dir or review_repo.default_cache_dir()),
            modcache=args.modcache,
            jobs=args.jobs,
            importers=args.importers,
        )
        if args.server:
            settings = Settings(opts.go, opts.goarch, opts.lang, tuple(opts.options.flags))
            result = review_repo.review_via_server(opts, Server(args.server, args.timeout, args.token), settings)
        else:
            result = review_repo.review(opts)
    except (InvalidInput, review_repo.RepoError, ReviewError, OSError) as exc:
        print(f"review: {exc}", file=sys.stderr)
        return EXIT_ERROR
    hot = [h.strip() for item in args.hot for h in item.split(",") if h.strip()]
    failures = review_repo.violations(result, fail_on, hot)
    if args.check_directives:
        for pkg in result.packages:
            for r in directive_report.violations(pkg.directives):
                failures.append(f"{pkg.package}: {directive_report.format_line(r)}")
    print(review_repo.render(result, args.format, failures), end="")
    print(
        f"review: {review_repo.headline(result)}; {result.compiled} compiled, {result.cached} from the cache, "
        f"{result.seconds:.1f} s",
        file=sys.stderr,
    )
    for line in failures:
        print(f"review: fails on {line}", file=sys.stderr)
    if result.errors:
        for e in result.errors:
            print(f"review: {e}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_NEW_HEAP if failures else EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.repo:
        return main_repo(args)
    if len(args.paths) != 2 or args.format == "sarif":
        print("review: give BEFORE and AFTER (or --repo DIR --base REV); --format sarif needs --repo", file=sys.stderr)
        return EXIT_ERROR
    args.before, args.after = (Path(p) for p in args.paths)
    try:
        sides = [read_side(args.before), read_side(args.after)]
        gos, goarches, langs = per_side(args.go, None), per_side(args.goarch, "amd64"), per_side(args.lang, None)
        flag_sides = per_side(args.flags, "")
        settings = [
            Settings(gos[i], goarches[i] or "amd64", langs[i], tuple(parse_flag_text(flag_sides[i] or "")))
            for i in (0, 1)
        ]
        if args.server:
            server = Server(args.server, args.timeout, args.token)
            a, b = (server.compile(files, s) for files, s in zip(sides, settings, strict=True))
        else:
            a, b = (compile_locally(files, s) for files, s in zip(sides, settings, strict=True))
    except (InvalidInput, ReviewError, OSError) as exc:
        print(f"review: {exc}", file=sys.stderr)
        return EXIT_ERROR
    diff = compare(a.analysis, b.analysis)
    links = Links(compare_url(args.server, a.id, b.id), a.url, b.url) if args.server else None
    checked = b.analysis.directives if args.check_directives else []
    if args.format == "json":
        payload = diff_payload(diff, links)
        if args.check_directives:
            payload["directives"] = [directive_dict(r) for r in checked]
        print(json.dumps(payload, indent=2, ensure_ascii=False))
    elif args.format == "markdown":
        print(render_markdown(diff, links), end="")
        if args.check_directives:
            print("\n" + directive_report.render_markdown(checked), end="")
    else:
        print(render_text(diff, links), end="")
        if args.check_directives:
            print("\n" + directive_report.render_text(checked), end="")
    for name, side in (("before", diff.a), ("after", diff.b)):
        if not side.ok:
            print(f"review: the {name} side did not compile ({side.status})", file=sys.stderr)
            return EXIT_ERROR
    failed = EXIT_OK
    if args.fail_on_new_heap and diff.new_heap:
        print(f"review: {len(diff.new_heap)} new heap allocation(s)", file=sys.stderr)
        failed = EXIT_NEW_HEAP
    violated = directive_report.violations(checked)
    if violated:
        print(f"review: {len(violated)} //gcassert: directive(s) violated", file=sys.stderr)
        failed = EXIT_DIRECTIVE_VIOLATED
    return failed


def directive_dict(result) -> dict:
    return result if isinstance(result, dict) else dataclasses.asdict(result)


if __name__ == "__main__":
    sys.exit(main())
