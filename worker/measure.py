"""Measure what the compiler predicted: build the program, run its benchmarks (or its
``main``) in the run sandbox, and count the allocations of every user line.

Build (in the compiler's sandbox, with the chosen toolchain, no ``go`` command, no build
cache): ``compile`` the user's files (``_test.go`` ones included) as package ``ee/user``
with the compilation's language version and flags, ``compile`` the driver
(worker/measure_driver.py) as ``main``, ``link`` them. Run (worker/run_sandbox.py): the
binary with ``GODEBUG=memprofilerate=1`` and ``GOMAXPROCS=1``; benchmarks with
``-test.bench=. -test.benchmem -test.benchtime=<benchtime>``. The result is a plain dict
(:func:`measure` docs its shape; docs/API.md "measurements").
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import run_sandbox, sandbox, toolchains
from .analysis import SourceFile
from .compiler import check_imports, compiler_env, resolve_lang, resolve_toolchain, write_sources
from .flags import BuildOptions
from .inputs import InvalidInput, compiled_files, package_name
from .measure_driver import USER_PACKAGE, USER_TRIM_PREFIX, driver_source, split_report

RUNNABLE_GOARCHES = ("amd64",)  # what this host's processors execute
BENCHTIME = "100ms"
MAX_BENCHMARKS = 32
SHOWN_OUTPUT_BYTES = 64 * 1024  # of stdout and of stderr each, in the result
MAX_LINES = 2000
_COMMENT_OR_STRING = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|`[^`]*`|\'(?:\\.|[^\'\\\n])*\'', re.DOTALL)
BENCHMARK_FUNC = re.compile(r"^func\s+(Benchmark(?![a-z])\w*)\s*\(\s*\w+\s+\*\s*testing\.B\s*\)", re.MULTILINE)
MAIN_FUNC = re.compile(r"^func\s+main\s*\(\s*\)", re.MULTILINE)
BENCH_LINE = re.compile(
    r"^(Benchmark\S*?)(?:-\d+)?\s+(\d+)\s+([0-9.]+) ns/op(?:\s+([0-9.]+) B/op)?(?:\s+([0-9.]+) allocs/op)?",
    re.MULTILINE,
)
LIMIT_MESSAGES = {
    "time": "The program ran past its wall-clock limit ({wall:g} s) and was stopped.",
    "cpu": "The program used up its CPU-time limit ({cpu} s) and was stopped.",
    "memory": "The program ran out of its memory limit ({memory_mib} MiB of address space) and was stopped.",
    "output": "The program printed more than {output_mib} MiB and was stopped.",
    "file": "The program tried to write a file larger than its limit and was stopped.",
}
BUILD_LIMITS = sandbox.Limits(wall_seconds=30.0, cpu_seconds=30)
RUN_ENV = {"GOMAXPROCS": "1", "GOTRACEBACK": "single"}
PROFILED_ENV = {**RUN_ENV, "GODEBUG": "memprofilerate=1"}


@dataclass
class MeasureRequest:
    files: list[SourceFile]
    go: str | None = None
    goarch: str = "amd64"
    lang: str | None = None
    options: BuildOptions = field(default_factory=BuildOptions)
    limits: run_sandbox.RunLimits = field(default_factory=run_sandbox.RunLimits)
    benchtime: str = BENCHTIME

    def __post_init__(self) -> None:
        self.files = compiled_files(self.files)


def find_benchmarks(files: list[SourceFile]) -> list[str]:
    """``func BenchmarkX(b *testing.B)`` declarations, in order of appearance."""
    names: list[str] = []
    for f in files:
        blanked = _COMMENT_OR_STRING.sub(lambda m: " " * len(m.group(0)), f.text)
        for m in BENCHMARK_FUNC.finditer(blanked):
            if m.group(1) not in names:
                names.append(m.group(1))
    return names


def has_main(files: list[SourceFile]) -> bool:
    return package_name(files) == "main" and any(
        MAIN_FUNC.search(_COMMENT_OR_STRING.sub(lambda m: " " * len(m.group(0)), f.text)) for f in files
    )


def empty_result(status: str, **fields) -> dict:
    result = {
        "status": status,
        "mode": "",
        "benchmarks": [],
        "lines": [],
        "stdout": "",
        "stderr": "",
        "exit_code": None,
        "truncated": False,
        "limit": "",
        "errors": [],
        "notes": [],
        "unattributed": {"allocs": 0, "bytes": 0},
        "go": "",
        "goarch": "",
        "benchtime": "",
        "sandbox": run_sandbox.RunLimits().describe(),
        "memory_limit": run_sandbox.MEMORY_LIMIT_KIND,
        "timings": {"build_ms": 0.0, "run_ms": 0.0, "total_ms": 0.0},
    }
    result.update(fields)
    return result


def link_tool(tc: toolchains.Toolchain) -> Path:
    return tc.compile.parent / "link"


def _build_flags(options: BuildOptions) -> list[str]:
    """The user's compiler flags that change code (-l, -N, -B, -d=…); printing ones dropped."""
    return [f for f in options.flags if not f.startswith(("-m", "-S", "-json", "-live"))]


def build(tc, req: MeasureRequest, lang: str, benchmarks: list[str], marker: str, workdir: Path) -> tuple[Path, str]:
    """Compile and link in the compiler's sandbox: (the binary's directory, "" or the build's errors)."""
    src, drv, out = workdir / "src", workdir / "drv", workdir / "out"
    workdir.chmod(0o755)  # the build runs as nobody when the worker is root
    for d in (src, drv, out):
        d.mkdir()
    write_sources(src, req.files)
    (drv / "driver.go").write_text(driver_source(benchmarks, marker), encoding="utf-8")
    std_cfg = tc.importcfg(req.goarch, req.options.variant)
    (drv / "importcfg").write_text(std_cfg.read_text() + f"packagefile {USER_PACKAGE}={out}/user.a\n")
    if os.geteuid() == 0:
        os.chown(out, sandbox.NOBODY_UID, sandbox.NOBODY_GID)
        os.chmod(drv, 0o755)
        for p in drv.iterdir():
            os.chmod(p, 0o644)
    env = compiler_env(tc, req.goarch, req.options)
    paths = [*tc.sandbox_paths(), drv]
    steps = [
        (
            [
                str(tc.compile),
                "-p",
                USER_PACKAGE,
                "-importcfg",
                str(std_cfg),
                "-lang",
                lang,
                "-trimpath",
                f"{src}=>{USER_TRIM_PREFIX}",
                "-o",
                f"{out}/user.a",
                "-c",
                "1",
                "-nolocalimports",
                "-pack",
                *_build_flags(req.options),
                *[f.name for f in req.files],
            ],
            str(src),
        ),
        (
            [str(tc.compile), "-p", "main", "-importcfg", f"{drv}/importcfg", "-o", f"{out}/main.a", "-pack"]
            + ["-trimpath", f"{drv}=>ee-driver", f"{drv}/driver.go"],
            str(drv),
        ),
        (
            [str(link_tool(tc)), "-importcfg", f"{drv}/importcfg", "-buildmode=exe", "-o", f"{out}/program"]
            + [f"{out}/main.a"],
            str(drv),
        ),
    ]
    for argv, cwd in steps:
        result = sandbox.run(argv, env=env, ro_paths=paths, input_dir=src, cwd=cwd, limits=BUILD_LIMITS, rw_dir=out)
        text = (result.stdout + result.stderr).replace(f"{src}/", "").replace(str(workdir), "")
        if result.limit:
            return out, f"Building the program hit the build's {result.limit} limit."
        if result.returncode != 0:
            return out, text.strip() or f"The build failed (exit status {result.returncode})."
    return out, ""


def measure(req: MeasureRequest) -> dict:
    """Build and run; the measurements as a dict (``status``: ok | exit-error | limit |
    build-error | nothing-to-run | unsupported). Raises InvalidInput for a bad request."""
    started = time.perf_counter()
    tc = resolve_toolchain(req.go, req.goarch)
    lang = resolve_lang(tc, req.lang)
    base = {
        "go": tc.version,
        "goarch": req.goarch,
        "sandbox": req.limits.describe(),
        "benchtime": req.benchtime,
    }
    if req.goarch not in RUNNABLE_GOARCHES:
        return empty_result(
            "unsupported",
            errors=[f"Only GOARCH={'/'.join(RUNNABLE_GOARCHES)} programs can run on this server, not {req.goarch}."],
            **base,
        )
    benchmarks = find_benchmarks(req.files)[:MAX_BENCHMARKS]
    if not benchmarks and not has_main(req.files):
        return empty_result(
            "nothing-to-run",
            errors=[
                "Nothing to run: add a func BenchmarkX(b *testing.B) (in the file or a _test.go file of the "
                "archive), or a package main with a func main()."
            ],
            **base,
        )
    mode = "benchmarks" if benchmarks else "main"
    import_errors = check_imports(tc, _as_compile_request(req))
    if import_errors:
        return empty_result(
            "build-error",
            mode=mode,
            errors=[f"{d.file}:{d.line}:{d.column}: {d.message}" for d in import_errors],
            **base,
        )
    marker = secrets.token_hex(12)
    workdir = Path(tempfile.mkdtemp(prefix="ee-run-"))
    try:
        build_started = time.perf_counter()
        program_dir, build_error = build(tc, req, lang, benchmarks, marker, workdir)
        build_ms = (time.perf_counter() - build_started) * 1000
        if build_error:
            return empty_result(
                "build-error",
                mode=mode,
                errors=[build_error[:20000]],
                timings={"build_ms": build_ms, "run_ms": 0.0, "total_ms": (time.perf_counter() - started) * 1000},
                **base,
            )
        command = [f"{run_sandbox.PROGRAM_DIR}/program"]
        if mode == "benchmarks":
            command += [
                "-test.run=^$",
                "-test.bench=.",
                "-test.benchmem",
                f"-test.benchtime={req.benchtime}",
                "-test.count=1",
                "-test.timeout=0",
            ]
        clean = None
        if mode == "benchmarks":
            # First without recording allocations: the table's ns/op is then a plain
            # `go test -bench` figure; then with every allocation recorded, for the lines.
            clean = run_sandbox.run(program_dir, command, env={**RUN_ENV, "EE_PROFILE": "0"}, limits=req.limits)
        if clean is not None and (clean.limit or clean.returncode != 0):
            run, profiled = clean, False
        else:
            run, profiled = run_sandbox.run(program_dir, command, env=PROFILED_ENV, limits=req.limits), True
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result = interpret(run, marker, mode, req.limits, benchmarks, profiled=profiled)
    if clean is not None and profiled:
        profiled_rows = result["benchmarks"]
        result["profiled_benchmarks"] = profiled_rows
        ops = {b["name"]: b.get("ops_total", 0) for b in profiled_rows}
        result["benchmarks"] = [
            {**b, "ops_total": ops.get(b["name"], 0)} for b in parse_benchmarks(_text(clean.stdout))
        ]
        result["stdout"] = _text(clean.stdout)[:SHOWN_OUTPUT_BYTES]
    result.update(base)
    result["timings"] = {
        "build_ms": round(build_ms, 1),
        "run_ms": round(run.wall_ms + (clean.wall_ms if clean is not None and profiled else 0), 1),
        "total_ms": round((time.perf_counter() - started) * 1000, 1),
    }
    return result


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _as_compile_request(req: MeasureRequest):
    from .compiler import CompileRequest

    return CompileRequest(req.files, go=req.go, goarch=req.goarch, lang=req.lang, options=req.options)


def interpret(
    run: run_sandbox.RunResult,
    marker: str,
    mode: str,
    limits: run_sandbox.RunLimits,
    benchmarks,
    profiled: bool = True,
) -> dict:
    """The run's outputs → the measurements dict (``profiled``: the run recorded allocations)."""
    stdout = run.stdout.decode("utf-8", "replace")
    stderr, report = split_report(run.stderr.decode("utf-8", "replace"), marker)
    truncated = run.limit == "output" or len(stdout) > SHOWN_OUTPUT_BYTES or len(stderr) > SHOWN_OUTPUT_BYTES
    result = empty_result(
        "ok",
        mode=mode,
        stdout=stdout[:SHOWN_OUTPUT_BYTES],
        stderr=stderr[:SHOWN_OUTPUT_BYTES],
        exit_code=run.returncode,
        truncated=truncated,
        limit=run.limit,
    )
    if mode == "benchmarks":
        result["benchmarks"] = parse_benchmarks(stdout)
    ops = {}
    # A benchmark with sub-benchmarks (b.Run) runs its function once; the operations are the
    # subs', which cannot be told apart by stack: its lines get totals, not per-op figures.
    with_subs = sorted({b["name"].split("/", 1)[0] for b in result["benchmarks"] if "/" in b["name"]})
    if with_subs:
        result["notes"].append(
            f"{', '.join(with_subs)} {'runs sub-benchmarks' if len(with_subs) == 1 else 'run sub-benchmarks'} "
            "(b.Run): its lines show total allocations, not per operation; see the benchmark table for allocs/op."
        )
    if report is not None:
        ops = {
            k: v for k, v in (report.get("ops") or {}).items() if isinstance(v, int) and v > 0 and k not in with_subs
        }
        result["lines"] = attribute_lines(report.get("records") or [], ops, mode)
        other = report.get("other") or [0, 0]
        result["unattributed"] = {"allocs": _int(other[0]), "bytes": _int(other[1])}
        for bench in result["benchmarks"]:
            bench["ops_total"] = ops.get(bench["name"], 0)
    if run.limit:
        result["status"] = "limit"
        result["errors"].append(
            LIMIT_MESSAGES[run.limit].format(
                wall=limits.wall_seconds,
                cpu=limits.cpu_seconds,
                memory_mib=limits.memory_bytes // 1024**2,
                output_mib=limits.output_bytes // 1024**2,
            )
        )
    elif run.returncode != 0:
        result["status"] = "exit-error"
        result["errors"].append(_exit_message(run.returncode, stderr))
    if report is None and not run.limit and profiled:
        result["notes"].append(
            "The program ended before its allocations could be reported (os.Exit, a panic or a fatal error): "
            "no per-line counts."
        )
    if mode == "benchmarks" and not result["benchmarks"] and result["status"] == "ok":
        result["notes"].append("No benchmark result was printed.")
    return result


def _exit_message(code: int, stderr: str) -> str:
    if "all goroutines are asleep - deadlock!" in stderr:
        return "The program deadlocked: all goroutines are asleep (the runtime stopped it)."
    if re.search(r"^panic: ", stderr, re.MULTILINE):
        first = re.search(r"^panic: .*$", stderr, re.MULTILINE).group(0)
        return f"The program panicked ({first[:200]})."
    if "--- FAIL" in stderr or code == 1 and "FAIL" in stderr:
        return f"A benchmark failed (exit status {code})."
    return f"The program exited with status {code}."


def _int(value) -> int:
    return value if isinstance(value, int) else 0


def parse_benchmarks(stdout: str) -> list[dict]:
    """``BenchmarkX  1000  1234 ns/op  128 B/op  2 allocs/op`` lines of ``testing``."""
    rows = []
    for m in BENCH_LINE.finditer(stdout):
        rows.append(
            {
                "name": m.group(1),
                "iterations": int(m.group(2)),
                "ns_per_op": float(m.group(3)),
                "bytes_per_op": int(float(m.group(4))) if m.group(4) else None,
                "allocs_per_op": int(float(m.group(5))) if m.group(5) else None,
            }
        )
    return rows


def _benchmark_of(stack: list[dict], ops: dict[str, int]) -> str:
    """The benchmark a stack ran under: the outermost user frame that is one (or its closure)."""
    for frame in reversed(stack):
        name = str(frame.get("f", ""))
        if name.startswith(USER_PACKAGE + "."):
            local = name[len(USER_PACKAGE) + 1 :]
            top = local.split(".", 1)[0]
            if top in ops:
                return top
    return ""


def attribute_lines(records: list, ops: dict[str, int], mode: str) -> list[dict]:
    """Per user line (the innermost user frame of each allocation): allocations, bytes,
    per operation of the benchmark they ran under, and the heaviest call chain."""
    lines: dict[tuple[str, int], dict] = {}
    for record in records[:100000]:
        if not isinstance(record, dict):
            continue
        stack = [f for f in record.get("s") or [] if isinstance(f, dict)]
        allocs, size = _int(record.get("a")), _int(record.get("b"))
        if not stack or allocs <= 0:
            continue
        top = stack[0]
        key = (str(top.get("file", "")), _int(top.get("line")))
        entry = lines.setdefault(
            key,
            {
                "file": key[0],
                "line": key[1],
                "function": _short(str(top.get("f", ""))),
                "allocs": 0,
                "bytes": 0,
                "by_benchmark": {},
                "_chains": {},
            },
        )
        entry["allocs"] += allocs
        entry["bytes"] += size
        bench = _benchmark_of(stack, ops) if mode == "benchmarks" else ""
        if bench:
            per = entry["by_benchmark"].setdefault(bench, {"allocs": 0, "bytes": 0})
            per["allocs"] += allocs
            per["bytes"] += size
        chain = tuple(f"{_short(str(f.get('f', '')))} {f.get('file', '')}:{_int(f.get('line'))}" for f in stack[:8])
        entry["_chains"][chain] = entry["_chains"].get(chain, 0) + allocs
    out = []
    for entry in lines.values():
        chains = entry.pop("_chains")
        entry["call_chain"] = list(max(chains.items(), key=lambda kv: kv[1])[0]) if chains else []
        per_bench = []
        for name, counts in sorted(entry.pop("by_benchmark").items()):
            n = ops.get(name, 0)
            per_bench.append(
                {
                    "name": name,
                    "allocs": counts["allocs"],
                    "bytes": counts["bytes"],
                    "allocs_per_op": round(counts["allocs"] / n, 4) if n else None,
                    "bytes_per_op": round(counts["bytes"] / n, 1) if n else None,
                }
            )
        entry["benchmarks"] = per_bench
        rated = [b for b in per_bench if b["allocs_per_op"] is not None]
        if rated:
            heaviest = max(rated, key=lambda b: b["allocs_per_op"])
            entry["allocs_per_op"] = heaviest["allocs_per_op"]
            entry["bytes_per_op"] = heaviest["bytes_per_op"]
        else:
            entry["allocs_per_op"] = None  # not under a benchmark: a program's run, or setup
            entry["bytes_per_op"] = None
        out.append(entry)
    out.sort(key=lambda e: (e["file"], e["line"]))
    return out[:MAX_LINES]


def _short(function: str) -> str:
    return function[len(USER_PACKAGE) + 1 :] if function.startswith(USER_PACKAGE + ".") else function


def check_runnable(files: list[SourceFile]) -> None:
    """Raise InvalidInput when there is nothing to run (used before queueing a run)."""
    go_files = compiled_files(files)
    if not find_benchmarks(go_files) and not has_main(go_files):
        raise InvalidInput(
            "Nothing to measure: add a func BenchmarkX(b *testing.B), or a package main with a func main()."
        )
