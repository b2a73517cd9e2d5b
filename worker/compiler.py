"""A compile request -> the compiler's argv -> one sandboxed run -> an :class:`Analysis`.

The compiler (``$GOROOT/pkg/tool/linux_amd64/compile``) is called directly with the
importcfg of the prepared standard library: one run prints every diagnostic and the
assembly on one stream. ``go build`` is never used per request.

It runs under the toolchain's ``ee-runner`` (worker/runner): the compiler also writes its
optimization log (``-json=0,file:///tmp/logopt``, the only source of large copies) into
the sandbox's private /tmp, and the runner appends it to stdout in frames marked with a
per-run nonce, which are cut off before anything else reads the output.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import directives, line_directives, prestart, sandbox, streaming, toolchains
from .analysis import Analysis, Diagnostic, SourceFile
from .flags import BuildOptions, uses_m
from .inputs import InvalidInput, compiled_files, find_imports, is_go_file, package_name
from .loops import mark_loops
from .parse import logopt as logopt_parse
from .parse import parse_compiler_output

# ASCII digits only, and the whole string: "go1.22\n" and full-width digits are not versions.
LANG_RE = re.compile(r"go1\.([0-9]{1,3})")
# Diagnostic groups a user can switch off; all on by default.
DIAGNOSTIC_GROUPS = ("escape", "inline", "wb", "bce", "nil", "loopvar", "asm")
LIMIT_MESSAGES = {
    "time": "The compiler ran past its time limit ({seconds:g} s) and was stopped.",
    "cpu": "The compiler used up its CPU-time limit and was stopped.",
    "memory": "The compiler ran out of its memory limit and was stopped.",
    "output": "The compiler printed more than {output_mib} MiB and was stopped.",
    "file": "The compiler tried to write more than the file-size limit and was stopped.",
}
# Where the compiler writes its optimization log: inside the sandbox's private tmpfs.
LOGOPT_DIR = "/tmp/logopt"


@dataclass
class CompileRequest:
    files: list[SourceFile]
    go: str | None = None  # toolchain version; None = newest installed
    goarch: str = "amd64"
    lang: str | None = None  # e.g. "go1.21"; None = the toolchain's own
    groups: tuple[str, ...] = DIAGNOSTIC_GROUPS
    limits: sandbox.Limits = field(default_factory=sandbox.Limits)
    options: BuildOptions = field(default_factory=BuildOptions)  # the user's flags and build settings

    other_files: list[SourceFile] = field(default_factory=list, init=False)  # go.mod, go.sum, notes

    def __post_init__(self) -> None:
        # a txtar's go.mod or notes are kept, never compiled; a go.mod makes it a module (worker/modules.py)
        self.other_files = [f for f in self.files if not is_go_file(f.name)]
        self.files = compiled_files(self.files)


def resolve_toolchain(go: str | None, goarch: str) -> toolchains.Toolchain:
    tc = toolchains.get(go)
    if tc is None:
        have = ", ".join(t.version for t in toolchains.installed()) or "none"
        if go is None:
            raise InvalidInput("No Go toolchain is installed on this server (python -m worker.toolchains install).")
        raise InvalidInput(f"Go {go} is not installed here. Installed: {have}.")
    if goarch not in tc.goarches():
        raise InvalidInput(
            f"GOARCH {goarch!r} is not prepared for Go {tc.version}. Available: {', '.join(tc.goarches())}."
        )
    return tc


def resolve_lang(tc: toolchains.Toolchain, lang: str | None) -> str:
    if not lang:
        return tc.lang
    m = LANG_RE.fullmatch(lang)
    if not m:
        raise InvalidInput(f"Language version {lang[:40]!r} is not of the form go1.N (for example go1.22).")
    if not 2 <= int(m.group(1)) <= tc.minor:
        raise InvalidInput(f"Language version {lang} is not supported by Go {tc.version} (go1.2 … {tc.lang}).")
    return lang


def debug_flags(tc: toolchains.Toolchain, lang: str, groups: tuple[str, ...]) -> list[str]:
    """The -d=… debug settings for the chosen diagnostic groups.

    ``loopvar=2`` is only passed for language versions go1.22 and later: it does not
    merely log, it switches loop variables to per-iteration, which would change the
    meaning of go1.21 code. ``pctab=pctoinline`` prints which inlined call each
    instruction came from, so the assembly can name the inlined function.
    """
    settings = []
    if "wb" in groups:
        settings.append("wb=1")
    if "bce" in groups:
        settings.append("ssa/check_bce/debug=1")
    if "nil" in groups:
        settings.append("nil=1")
    if "loopvar" in groups and tc.minor >= 22 and int(lang.removeprefix("go1.")) >= 22:
        settings.append("loopvar=2")
    if "asm" in groups:
        settings.append("pctab=pctoinline")
    return [f"-d={','.join(settings)}"] if settings else []


def compiler_argv(
    tc: toolchains.Toolchain,
    req: CompileRequest,
    lang: str,
    workdir: Path,
    *,
    package: str = "",
    importcfg: Path | None = None,
    output: str = "/tmp/out.o",
) -> list[str]:
    """The analysing compile of ``req.files``; a module's package (worker/modules.py)
    gives its import path, its importcfg and where its export data goes."""
    argv = [
        str(tc.compile),
        "-p",
        package or package_name(req.files),
        "-importcfg",
        str(importcfg or tc.importcfg(req.goarch, req.options.variant)),
        "-lang",
        lang,
        "-trimpath",
        f"{workdir}=>",
        "-o",
        output,
        "-c",
        "1",
        "-nolocalimports",
        "-pack",
    ]
    # -m counts: a bare -m after the engine's -m=2 would make 3. The user's -m replaces ours.
    if ("escape" in req.groups or "inline" in req.groups) and not uses_m(req.options.flags):
        argv.append("-m=2")
    argv += debug_flags(tc, lang, req.groups)
    if "asm" in req.groups:
        argv.append("-S=2")
    argv.append(f"-json=0,file://{LOGOPT_DIR}")
    argv += req.options.flags  # after the engine's own: where both set something, the user's wins
    argv += [f.name for f in req.files]
    return argv


def runner_argv(tc: toolchains.Toolchain, compile_argv: list[str], marker: str) -> list[str]:
    """The compiler's argv under the runner, which frames the log files after its output."""
    return [
        str(tc.runner),
        "-marker",
        marker,
        "-logopt",
        LOGOPT_DIR,
        "-codes",
        ",".join(logopt_parse.CODES),
        "--",
        *compile_argv,
    ]


def runner_request(
    compile_argv: list[str], marker: str, env: dict[str, str], workdir: Path, files: list[SourceFile]
) -> dict:
    """What a sandbox started ahead (worker/prestart.py) reads on stdin, as JSON: the
    runner's settings as :func:`runner_argv` gives them, the compiler's argv and
    environment, and the sources as :func:`write_sources` writes them, for the runner to
    write into ``workdir`` (a new directory in the sandbox's private /tmp)."""
    return {
        "marker": marker,
        "logopt": LOGOPT_DIR,
        "codes": list(logopt_parse.CODES),
        "dir": str(workdir),
        "files": [{"name": f.name, "text": text_to_compile(f)} for f in files],
        "env": [f"{key}={value}" for key, value in env.items()],
        "argv": compile_argv,
    }


def same_run(plan: dict, request: dict) -> bool:
    """Is ``request`` the run ``plan`` (an -ahead request) started, but for the files' text?"""
    names = [f["name"] for f in request["files"]]
    return names == [f["name"] for f in plan["files"]] and all(
        plan[key] == request[key] for key in ("marker", "logopt", "codes", "dir", "env", "argv")
    )


def prepare_sandbox(go: str | None, limits: sandbox.Limits, like: CompileRequest | None = None) -> bool:
    """Start the sandbox of a next compile with toolchain ``go`` (None: the newest) within
    ``limits`` ahead of it (worker/prestart.py), and in it the compiler with the argv a
    compile shaped as ``like`` would have (its files' names and package, its settings; by
    default one main.go of package main with the default settings), waiting for the files'
    text. False when no sandbox was started."""
    tc = toolchains.get(go)
    if tc is None:
        return False
    like = like or CompileRequest([SourceFile("main.go", "package main\n")], limits=limits)
    try:
        plan = _ahead_plan(tc, like)
    except InvalidInput:  # settings this toolchain cannot compile: the sandbox alone
        plan = None
    return prestart.prepare(tc, limits, plan)


def _ahead_plan(tc: toolchains.Toolchain, like: CompileRequest) -> dict | None:
    from . import modules

    if like.goarch not in tc.goarches() or modules.is_module(like.files, like.other_files) or not like.files:
        return None
    workdir = sandbox_workdir()
    env = compiler_env(tc, like.goarch, like.options, like.limits.memory_bytes)
    argv = compiler_argv(tc, like, resolve_lang(tc, like.lang), workdir)
    plan = runner_request(argv, logopt_parse.new_marker(), env, workdir, [])
    plan["files"] = [{"name": f.name} for f in like.files]  # names only: the text comes with the compile
    return plan


def sandbox_workdir() -> Path:
    """A new directory for the sources inside a sandbox's own /tmp (the runner makes it)."""
    return Path(f"/tmp/ee-src-{secrets.token_hex(8)}")


def compiler_env(
    tc: toolchains.Toolchain,
    goarch: str,
    options: BuildOptions | None = None,
    memory_bytes: int = sandbox.Limits.memory_bytes,
) -> dict[str, str]:
    """The environment of a sandboxed compiler run (also used by worker/ssa.py).

    The compiler's garbage collector is off until its heap nears half the sandbox's memory
    limit (GOGC=off with GOMEMLIMIT): a compile is short-lived, and collecting costs it
    about 15 % of its CPU time (``make bench`` shows the floor with and without). Past the
    soft limit it collects as usual, so a program that needs much memory still compiles
    and one that needs too much still meets the hard limit (RLIMIT_AS).
    """
    return {
        "GOROOT": str(tc.goroot),
        "GOARCH": goarch,
        "GOOS": "js" if goarch == "wasm" else "linux",
        "CGO_ENABLED": "0",
        "GOMAXPROCS": "1",
        "GOGC": "off",
        "GOMEMLIMIT": str(memory_bytes // 2),
        **(options.env_dict if options else {}),
    }


def check_variant(tc: toolchains.Toolchain, req: CompileRequest) -> None:
    """Build settings need the standard library prepared with them."""
    variant = req.options.variant
    if variant and not tc.importcfg(req.goarch, variant).is_file():
        prepared = ", ".join(tc.variants(req.goarch)) or "none"
        env = " ".join(f"--env {k}={v}" for k, v in req.options.env)
        raise InvalidInput(
            f"{variant} is not prepared on this server for Go {tc.version} {req.goarch} (prepared: {prepared}). "
            f"An operator can add it: python -m worker.toolchains install {tc.version} --goarch {req.goarch} {env}"
        )


def check_imports(tc: toolchains.Toolchain, req: CompileRequest) -> list[Diagnostic]:
    """Imports outside the standard library, as error diagnostics naming them."""
    std = tc.std_packages(req.goarch)
    errors = []
    for site in find_imports(req.files):
        path = site.path
        if path == "unsafe":
            continue
        if path == "C":
            why = 'cgo (import "C") is not available: the sandbox compiles with CGO_ENABLED=0.'
        elif path in std and "internal" not in path.split("/") and not path.startswith("vendor/"):
            continue
        elif path in std:
            why = f'package "{path}" is internal to the standard library and cannot be imported.'
        else:
            why = (
                f'package "{path}" is not in the standard library of Go {tc.version}: '
                "only standard library packages can be imported here."
            )
        errors.append(Diagnostic(site.file, site.line, site.column, "error", why))
    return errors


def write_sources(workdir: Path, files: list[SourceFile]) -> None:
    """The user's files as the compiler reads them: with every ``//line`` directive disabled
    (worker/line_directives.py), so every position it prints is a real line of a real file."""
    for f in files:
        (workdir / f.name).write_text(text_to_compile(f), encoding="utf-8")


def text_to_compile(f: SourceFile) -> str:
    """A file's text as the compiler gets it: every ``//line`` directive disabled."""
    return line_directives.neutralize(f.text)


def compile_request(req: CompileRequest) -> Analysis:
    """Compile and analyse. User errors come back in ``Analysis.status``/``errors``."""
    started = time.perf_counter()
    tc = resolve_toolchain(req.go, req.goarch)
    lang = resolve_lang(tc, req.lang)
    check_variant(tc, req)
    from . import modules  # it builds on this module

    if modules.is_module(req.files, req.other_files):
        return modules.compile_module(req, tc, started)
    analysis = Analysis(
        go=tc.version,
        goarch=req.goarch,
        lang=lang,
        files=req.files,
        toolchain=f"go{tc.version}",
        options=req.options.describe(),
    )
    import_errors = check_imports(tc, req)
    if import_errors:
        analysis.status = "compile-error"
        analysis.diagnostics = import_errors
        analysis.errors = [f"{d.file}:{d.line}:{d.column}: {d.message}" for d in import_errors]
        line_directives.annotate(analysis.diagnostics, req.files)
        analysis.directives = directives.check(analysis, req.groups, package_name(req.files))
        analysis.timings.total_ms = (time.perf_counter() - started) * 1000
        return analysis

    if not tc.has_runner():
        # An operator's error, not the user's: the run fails and is retried later.
        raise RuntimeError(
            f"Go {tc.version} has no compiler runner at {tc.runner}: "
            f"run python -m worker.toolchains install {tc.version}"
        )
    env = compiler_env(tc, req.goarch, req.options, req.limits.memory_bytes)
    ready = prestart.take(tc, req.limits)
    plan = ready.ahead if ready else None
    marker = plan["marker"] if plan else logopt_parse.new_marker()
    # The sources' directory: in the private /tmp of a sandbox started ahead, which the
    # runner writes them to, else a host directory bound read-only into a new sandbox.
    if ready:
        workdir = Path(plan["dir"]) if plan else sandbox_workdir()
    else:
        workdir = Path(tempfile.mkdtemp(prefix="ee-src-"))
    # Read while it compiles (a big program), its paths cut as the whole output's are.
    stream = streaming.for_request(marker, lambda text: rewrite_paths(text, workdir), req.goarch, req.files)
    on_stdout = stream.feed_bytes if stream else None
    if ready:
        try:
            request = runner_request(compiler_argv(tc, req, lang, workdir), marker, env, workdir, req.files)
            if plan and same_run(plan, request):  # the compiler started ahead waits for these files
                request = {"ahead": True, "files": request["files"]}
            message = json.dumps(request).encode("utf-8")
        except BaseException:
            ready.sandbox.discard()  # not handed over: ended here, not left waiting
            raise
        result = ready.sandbox.hand_over(message, on_stdout)
    else:
        try:
            write_sources(workdir, req.files)
            result = sandbox.run(
                runner_argv(tc, compiler_argv(tc, req, lang, workdir), marker),
                env=env,
                ro_paths=tc.sandbox_paths(),
                input_dir=workdir,
                cwd=str(workdir),
                limits=req.limits,
                on_stdout=on_stdout,
            )
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    read_run(analysis, result, req.files, package_name(req.files), marker, workdir, req.limits, stream)
    analysis.directives = directives.check(analysis, req.groups, package_name(req.files))
    analysis.timings.total_ms = (time.perf_counter() - started) * 1000
    return analysis


def read_run(
    analysis: Analysis,
    result: sandbox.SandboxResult,
    files: list[SourceFile],
    package: str,
    marker: str,
    workdir: Path,
    limits: sandbox.Limits,
    stream: streaming.CompileStream | None = None,
) -> None:
    """Fill ``analysis`` from one sandboxed compiler run under the runner (also used per
    package of a module by worker/modules.py); ``stream``: what was read of it while it ran."""
    analysis.timings.compile_ms = result.wall_ms
    stdout, logs = logopt_parse.split_frames(rewrite_paths(result.stdout, workdir), marker)
    output = stdout + rewrite_paths(result.stderr, workdir)
    analysis.raw_output = output
    parse_start = time.perf_counter()
    if result.limit:
        analysis.status = "limit"
        analysis.limit = result.limit
        analysis.errors = [
            LIMIT_MESSAGES[result.limit].format(seconds=limits.wall_seconds, output_mib=limits.output_bytes // 1024**2)
        ]
        analysis.raw_output = output[-20000:]
    else:
        user_files = [f.name for f in files]
        streamed = stream and stream.finish(
            output, user_files, exit_code=result.returncode, package=package, logopt=logs
        )
        if streamed:
            parsed, loops, tables = streamed.parsed, streamed.loops, streamed.jump_tables
            analysis._raw_output_gz = streamed.raw_output_gz
        else:  # no stream, or what it read is not what the compiler finally printed: read it whole
            parsed = parse_compiler_output(
                output, user_files, exit_code=result.returncode, package=package, logopt=logs
            )
            loops, tables = None, None
        analysis.diagnostics = parsed.diagnostics
        analysis.functions = parsed.functions
        line_directives.annotate(analysis.diagnostics, files)
        mark_loops(analysis, loops, tables)
        analysis.errors = parsed.errors
        if result.returncode != 0:
            analysis.status = "compile-error"
            if not analysis.errors or any(e.startswith("usage: compile") for e in analysis.errors):
                analysis.errors = _unpositioned_errors(output) or [
                    f"The compiler failed (exit status {result.returncode}) without a message."
                ]
    analysis.timings.parse_ms = (time.perf_counter() - parse_start) * 1000


def _unpositioned_errors(output: str) -> list[str]:
    """The compiler's message when it stopped before compiling (a flag it does not know:
    "invalid value … for flag -d", "flag provided but not defined"), without the usage
    text it prints after it."""
    lines = []
    for line in output.splitlines():
        if line.startswith("usage: compile"):
            break
        if line.strip():
            lines.append(line)
    return lines[:50]


def rewrite_paths(text: str, workdir: Path) -> str:
    """Positions outside -trimpath's reach (rare) still must not show sandbox paths."""
    return text.replace(f"{workdir}/", "")


def format_source(files: list[SourceFile], go: str | None = None) -> list[SourceFile]:
    """gofmt of the chosen toolchain, in the sandbox. Raises InvalidInput on syntax errors."""
    tc = toolchains.get(go)
    if tc is None:
        raise InvalidInput(f"Go {go} is not installed here.")
    formatted = []
    for f in files:
        if not is_go_file(f.name):
            formatted.append(f)  # go.mod, notes: kept as they are
            continue
        result = sandbox.run(
            [str(tc.gofmt)],
            env={"GOROOT": str(tc.goroot)},
            ro_paths=tc.sandbox_paths(),
            stdin=f.text.encode("utf-8"),
            limits=sandbox.Limits(wall_seconds=10),
        )
        if result.limit:
            raise InvalidInput("gofmt ran past its limits and was stopped.")
        if result.returncode != 0:
            message = result.stderr.replace("<standard input>", f.name).strip()
            raise InvalidInput(f"gofmt could not format {f.name}:\n{message}")
        formatted.append(SourceFile(f.name, result.stdout))
    return formatted
