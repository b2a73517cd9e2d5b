"""GOSSAFUNC: the compiler's SSA passes of one function, as the ssa.html it writes.

``GOSSAFUNC=f go build`` makes the compiler write an HTML page with the function's SSA
after every pass (start, opt, …, genssa). Here it is one more sandboxed run of the same
files and settings, without -m/-S/-json, under the environment::

    GOSSAFUNC=main.newT  GOSSADIR=/tmp/ssa

Checked in ``cmd/compile/internal/ssagen/ssa.go`` of Go 1.21.13 and 1.27.3: the name
matches ``ir.FuncName`` ("newT", "(*T).M", "newT.func1", "Map[go.shape.int]") or the
same prefixed with the package path (``-p``, the package name here), which is exactly
how our symbol names read (``main.newT``, ``main.(*T).M``): they are passed unchanged.
With GOSSADIR the file is ``<dir>/<pkg>.<name>.html`` (1.21) or
``<dir>/<pkg>.<name>,<abi>.html`` (1.22+; ``Func.NameABI``); without it ``ssa.html`` in
the working directory, which is the read-only input directory in the sandbox. The
directory must exist: the runner creates it (``-collect DIR:GLOB``) and, after the
compiler, prints the ``*.html`` files in it framed by the per-run nonce.

Only functions of the user's own files (the compilation's function list) are accepted,
so nothing arbitrary reaches the environment variable.

The page is returned through ``ssa_sanitize.sanitize``: the compiler leaves some names
unescaped (struct tags in generic shape types), so everything but its own markup comes
back as escaped text, and ``ssa_sanitize.csp_for`` gives the policy to serve it with.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import compiler, sandbox, ssa_sanitize
from .analysis import Function, SourceFile
from .inputs import InvalidInput, package_name
from .parse import logopt as logopt_parse

# Where the compiler writes the page: inside the sandbox's private tmpfs.
SSA_DIR = "/tmp/ssa"
# Largest page kept (a big function's ssa.html runs to several MB).
MAX_HTML_BYTES = 20 * 1024**2
FILE_FRAME = "#ee-file"
# Symbol names of functions never hold control characters, ':' (GOSSAFUNC's phase
# separator) or a trailing '+' (GOSSAFUNC's "also to stdout").
FUNCTION_RE = re.compile(r"^[^\x00-\x1f\x7f:]{1,512}$")


class LimitHit(InvalidInput):
    """The sandbox stopped the compiler; ``limit`` says which limit (time, cpu, memory, …)."""

    def __init__(self, message: str, limit: str):
        super().__init__(message)
        self.limit = limit


@dataclass
class CollectedFile:
    name: str
    size: int
    text: str | None  # None when the runner left it out as too large


def user_functions(
    functions: Iterable[Function | dict[str, Any]], file_names: Iterable[str], package: str
) -> list[str]:
    """Symbol names of the functions declared in the user's files (``main.newT``)."""
    names = set(file_names)
    out = []
    for fn in functions:
        name, file = (fn.name, fn.file) if isinstance(fn, Function) else (fn.get("name", ""), fn.get("file", ""))
        if file in names and name.startswith(f"{package}.") and name not in out:
            out.append(name)
    return out


def functions_of_analysis(analysis: dict[str, Any] | None) -> list[str]:
    """The user's functions of a stored Analysis (``Analysis.to_dict()``); [] when it has
    none (a compile error, or the assembly was not collected)."""
    if not analysis or analysis.get("status") != "ok":
        return []
    sources = [SourceFile(f["name"], f["text"]) for f in analysis.get("files") or []]
    return user_functions(analysis.get("functions") or [], [f.name for f in sources], package_name(sources))


def gossafunc(symbol: str, package: str) -> str:
    """GOSSAFUNC's value for one of our symbol names: ``main.newT`` and
    ``main.(*T).M`` are matched by the compiler as ``<package path>.<name>`` as they are."""
    if not symbol.startswith(f"{package}.") or not FUNCTION_RE.match(symbol) or symbol.endswith("+"):
        raise InvalidInput(f"{symbol!r} is not a function of package {package}.")
    return symbol


def split_collected(stdout: str, marker: str) -> tuple[str, list[CollectedFile]]:
    """(the compiler's own stdout, the files the runner printed with ``-collect``)."""
    first = stdout.find(f"{FILE_FRAME} {marker} ")
    if first < 0:
        return stdout, []
    own, rest = stdout[:first], stdout[first:]
    begin, toolarge = f"{FILE_FRAME} {marker} begin ", f"{FILE_FRAME} {marker} toolarge "
    end = f"\n{FILE_FRAME} {marker} end\n"
    files: list[CollectedFile] = []
    pos = 0
    while pos < len(rest):
        newline = rest.find("\n", pos)
        if newline < 0:
            break
        line = rest[pos:newline]
        if line.startswith(toolarge):
            size, _, name = line[len(toolarge) :].partition(" ")
            files.append(CollectedFile(name, int(size) if size.isdigit() else 0, None))
            pos = newline + 1
        elif line.startswith(begin):
            size, _, name = line[len(begin) :].partition(" ")
            stop = rest.find(end, newline)
            if stop < 0:  # cut short (an output limit): not a whole file
                break
            files.append(CollectedFile(name, int(size) if size.isdigit() else 0, rest[newline + 1 : stop + 1]))
            pos = stop + len(end)
        else:
            pos = newline + 1
    return own, files


def ssa_html(request: compiler.CompileRequest, function: str, functions: Iterable[str] | None = None) -> str:
    """The compiler's ssa.html for ``function`` (a symbol name such as ``main.newT``),
    sanitized (``ssa_sanitize.sanitize``).

    ``functions``: the user's functions of the compilation (``functions_of_analysis``);
    when not given they are found by compiling the request once more. Raises
    InvalidInput for an unknown function, a program that does not compile, a limit or a
    page over ``MAX_HTML_BYTES``.
    """
    tc = compiler.resolve_toolchain(request.go, request.goarch)
    lang = compiler.resolve_lang(tc, request.lang)
    package = package_name(request.files)
    if functions is None:
        analysis = compiler.compile_request(dataclasses.replace(request, groups=("asm",)))
        if analysis.status != "ok":
            raise InvalidInput("The program does not compile, so there is no SSA to show.")
        functions = user_functions(analysis.functions, [f.name for f in request.files], package)
    if function not in set(functions):
        raise InvalidInput(f"{function!r} is not one of the functions compiled from your files.")
    value = gossafunc(function, package)
    if not tc.has_runner():
        raise RuntimeError(f"Go {tc.version} has no compiler runner at {tc.runner}")

    plain = dataclasses.replace(request, groups=())
    marker = logopt_parse.new_marker()
    workdir = Path(tempfile.mkdtemp(prefix="ee-ssa-"))
    try:
        compiler.write_sources(workdir, request.files)
        argv = [a for a in compiler.compiler_argv(tc, plain, lang, workdir) if not a.startswith("-json=")]
        runner = [
            str(tc.runner),
            "-marker",
            marker,
            "-collect",
            f"{SSA_DIR}:*.html",
            "-collect-max",
            str(MAX_HTML_BYTES),
            "--",
            *argv,
        ]
        limits = dataclasses.replace(request.limits, output_bytes=MAX_HTML_BYTES + 4 * 1024**2)
        result = sandbox.run(
            runner,
            env={**compiler.compiler_env(tc, request.goarch, request.options), "GOSSAFUNC": value, "GOSSADIR": SSA_DIR},
            ro_paths=tc.sandbox_paths(),
            input_dir=workdir,
            cwd=str(workdir),
            limits=limits,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    limit_mib = MAX_HTML_BYTES // 1024**2
    if result.limit in ("file", "output"):
        raise InvalidInput(f"The SSA dump of {function} is larger than {limit_mib} MiB, more than we keep.")
    if result.limit:
        raise LimitHit(
            compiler.LIMIT_MESSAGES[result.limit].format(
                seconds=limits.wall_seconds, output_mib=limits.output_bytes // 1024**2
            ),
            result.limit,
        )
    if result.stderr.startswith(("flag provided but not defined: -collect", "usage: ee-runner")):
        # An operator's error (a runner built before -collect): failed, retried later.
        raise RuntimeError(
            f"the runner of Go {tc.version} is outdated: run python -m worker.toolchains install {tc.version}"
        )
    own, files = split_collected(result.stdout, marker)
    if result.returncode != 0:
        lines = [line for line in (own + result.stderr).replace(f"{workdir}/", "").splitlines() if line.strip()]
        raise InvalidInput("\n".join(["The compiler failed while writing the SSA:", *lines[:20]]))
    if not files:
        raise InvalidInput(f"The compiler wrote no SSA for {function} (it may have been compiled away).")
    page = files[0]
    if page.text is None:
        raise InvalidInput(
            f"The SSA dump of {function} is {page.size / 1024**2:.1f} MiB, more than the {limit_mib} MiB we keep."
        )
    return ssa_sanitize.sanitize(page.text)
