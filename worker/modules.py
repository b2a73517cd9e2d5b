"""Go modules: a go.mod, packages in subdirectories, other modules' packages.

Three steps, two levels of trust:

1. **fetch** (:func:`fetch`), outside the compile sandbox: ``go mod download`` through the
   module proxy the operator configured (``EXPLORER_GOPROXY``; a ``file://`` directory
   works too) into a shared module cache. No user code is built or run: the go command
   only reads go.mod and downloads, verifies (go.sum, the checksum database unless
   ``GONOSUMDB``/``GOSUMDB=off`` say otherwise) and unpacks module zips. It runs with
   ``GOTOOLCHAIN=local``, ``GOVCS=*:off`` (never a version-control tool), a time limit,
   a limit on the number of required modules and on the size of what was downloaded.
   Without a configured proxy nothing is fetched: imports outside the standard library
   and the module itself are refused as before.
2. **list** (:func:`list_packages`), in the sandbox: ``go list -deps -e -json`` with
   ``GOPROXY=off`` and the module cache bound read-only: which packages, which files,
   in dependency order.
3. **build** (:func:`build`), in the sandbox: one compiler run per package, dependencies
   first, each writing its export data into the run's scratch directory for the
   packages after it. The packages analysed (the main module's) are compiled exactly as
   :func:`worker.compiler.compile_request` compiles one package (``-m=2``, ``-d=…``,
   ``-S=2``, the runner's optimization log); the others plainly. No network in there.

Analyses can be cached per package (:class:`PackageCache`, used by the review CLI) under
a key of everything that decides the compiler's output: the toolchain, GOARCH, language
version, flags, build settings, the package's files and, recursively, the keys of the
packages it imports (an inlined callee changes its callers), or the version of a
dependency module.
"""

from __future__ import annotations

import fnmatch
import gzip
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from . import directives, line_directives, sandbox, toolchains
from .analysis import Analysis, Diagnostic, SourceFile
from .flags import BuildOptions
from .inputs import InvalidInput, find_imports

GO_MOD = "go.mod"
_REQUIRE = re.compile(r"^\s*require\b", re.MULTILINE)
_MODULE_LINE = re.compile(r'^\s*module\s+("?)([^\s"]+)\1', re.MULTILINE)
_GO_LINE = re.compile(r"^\s*go\s+1\.([0-9]{1,3})", re.MULTILINE)
_GO_MODULE_ERROR = re.compile(r"^go: ([^\s:@]+@[^\s:]+): (.*)$")
PATTERN_RE = re.compile(r"^[A-Za-z0-9_.~+@/][A-Za-z0-9_.~+@/\-]*$")
LIST_FIELDS = (
    "ImportPath,Name,Dir,GoFiles,Imports,ImportMap,Standard,DepOnly,Module,Error,DepsErrors,SFiles,"
    "EmbedPatterns,EmbedFiles"
)
TIME_LIMIT_REACHED = "the time limit was reached."
SCRATCH = "_ee"  # the build's scratch directory in the module copy (ignored by ./...: it starts with _)


# --- is it a module? -------------------------------------------------------------------


def module_path(go_mod_text: str) -> str:
    m = _MODULE_LINE.search(go_mod_text)
    return m.group(2) if m else ""


def is_module(go_files: list[SourceFile], other_files: list[SourceFile]) -> bool:
    """Compiled as a module: a top-level go.mod, and files in subdirectories, requirements
    or imports of the module's own packages. (A go.mod beside one package's files alone
    changes nothing: that package is compiled as before, the go.mod kept and shown.)"""
    mod = next((f for f in other_files if f.name == GO_MOD), None)
    if mod is None:
        return False
    if any("/" in f.name for f in [*go_files, *other_files]):
        return True
    if _REQUIRE.search(mod.text):
        return True
    path = module_path(mod.text)
    return bool(path) and any(s.path == path or s.path.startswith(path + "/") for s in find_imports(go_files))


# --- fetching dependencies ---------------------------------------------------------------


@dataclass(frozen=True)
class FetchConfig:
    """Where modules come from and how much may be fetched (the operator's settings)."""

    goproxy: str
    modcache: Path
    gosumdb: str = ""  # "" = Go's default (sum.golang.org); "off"
    gonosumdb: str = ""
    goprivate: str = ""
    govcs: str = "*:off"  # never run git, hg, …: only the proxy
    max_modules: int = 50
    max_download_bytes: int = 200 * 1024**2
    seconds: float = 120.0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> FetchConfig | None:
        """The server's configuration (``EXPLORER_GOPROXY`` …); None when no proxy is configured."""
        env = dict(os.environ if env is None else env)
        proxy = env.get("EXPLORER_GOPROXY", "").strip()
        if not proxy or proxy == "off":
            return None
        return cls(
            goproxy=proxy,
            modcache=server_modcache(env),
            gosumdb=env.get("EXPLORER_GOSUMDB", "").strip(),
            gonosumdb=env.get("EXPLORER_GONOSUMDB", "").strip(),
            goprivate=env.get("EXPLORER_GOPRIVATE", "").strip(),
            max_modules=int(env.get("EXPLORER_MAX_MODULES", "50")),
            max_download_bytes=int(float(env.get("EXPLORER_MAX_DOWNLOAD_MB", "200")) * 1024**2),
            seconds=float(env.get("EXPLORER_DOWNLOAD_SECONDS", "120")),
        )

    def go_env(self) -> dict[str, str]:
        env = {"GOPROXY": self.goproxy, "GOMODCACHE": str(self.modcache), "GOVCS": self.govcs}
        for name, value in (("GOSUMDB", self.gosumdb), ("GONOSUMDB", self.gonosumdb), ("GOPRIVATE", self.goprivate)):
            if value:
                env[name] = value
        return env


def server_modcache(env: dict[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get("EXPLORER_GOMODCACHE") or toolchains.home() / "modcache")


class FetchError(Exception):
    """Modules that could not be fetched, each named, worded for the user."""

    def __init__(self, messages: list[str]):
        super().__init__("; ".join(messages))
        self.messages = messages


class FetchTimeout(FetchError):
    """The fetch ran past its time limit (a limit, as a compile's time limit is)."""


def _host_go_env(tc: toolchains.Toolchain, scratch: Path, extra: dict[str, str]) -> dict[str, str]:
    """The go command's environment outside the sandbox: nothing of the worker's own."""
    return {
        "PATH": f"{tc.goroot / 'bin'}:/usr/bin:/bin",
        "HOME": str(scratch),
        "GOROOT": str(tc.goroot),
        "GOPATH": str(scratch / "gopath"),
        "GOCACHE": str(scratch / "gocache"),
        "GOENV": "off",
        "GOWORK": "off",
        "GOTOOLCHAIN": "local",
        "GOTELEMETRY": "off",
        "GOFLAGS": "-mod=mod",
        "CGO_ENABLED": "0",
        **extra,
    }


def _run_host(argv: list[str], cwd: Path, env: dict[str, str], seconds: float) -> tuple[int, str, str, bool]:
    """(exit status, stdout, stderr, timed out) of a go command, its process group killed at the limit."""
    proc = subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, text=True
    )
    try:
        out, err = proc.communicate(timeout=max(seconds, 0.1))
        return proc.returncode, out, err, False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        return -9, out, err, True


def read_go_mod(tc: toolchains.Toolchain, moddir: Path) -> dict:
    """``go mod edit -json``: the go command's own reading of go.mod (it only parses it)."""
    scratch = Path(tempfile.mkdtemp(prefix="ee-gomod-"))
    try:
        rc, out, err, _ = _run_host([str(tc.go), "mod", "edit", "-json"], moddir, _host_go_env(tc, scratch, {}), 10)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if rc != 0:
        raise FetchError([_clean(err, moddir) or "go.mod could not be read."])
    return json.loads(out)


def fetch(
    tc: toolchains.Toolchain, moddir: Path, config: FetchConfig | None, seconds: float | None = None
) -> list[str]:
    """Download the modules go.mod requires into the module cache. Returns the required
    module paths; raises :class:`FetchError` naming each one that cannot be fetched.
    ``seconds``: a tighter time limit than the configuration's (a lane's)."""
    mod = read_go_mod(tc, moddir)
    for rep in mod.get("Replace") or []:
        new = rep.get("New", {}).get("Path", "")
        if not rep.get("New", {}).get("Version"):
            raise FetchError(
                [
                    f"go.mod replaces {rep['Old']['Path']} with the directory {new}: only module versions can be used here."
                ]
            )
    required = [r["Path"] + "@" + r["Version"] for r in mod.get("Require") or []]
    if not required:
        return []
    if config is None:
        raise FetchError(
            [
                f"go.mod requires {', '.join(required[:10])}{' …' if len(required) > 10 else ''}: "
                "no module proxy is configured here, so only the standard library and the module's own packages "
                "can be imported."
            ]
        )
    if len(required) > config.max_modules:
        raise FetchError([f"go.mod requires {len(required)} modules; the limit is {config.max_modules}."])
    config.modcache.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="ee-fetch-"))
    limit = min(config.seconds, seconds) if seconds else config.seconds
    deadline = time.monotonic() + limit
    env = _host_go_env(tc, scratch, config.go_env())
    try:
        # the module graph first (go.mod files only): how many modules the build needs
        rc, out, err, timed_out = _run_host([str(tc.go), "list", "-m", "-e", "-json", "all"], moddir, env, limit)
        if not timed_out:
            graph = [m for m in _json_stream(out) if not m.get("Main")] if rc == 0 else []
            if len(graph) > config.max_modules:
                raise FetchError([f"The module needs {len(graph)} modules; the limit is {config.max_modules}."])
            broken = [m for m in graph if m.get("Error")]
            if rc != 0 or broken:
                raise FetchError(
                    [
                        f"module {m['Path']}@{m.get('Version', '?')} could not be fetched: {_clean(m['Error'].get('Err', ''), moddir)}"
                        for m in broken
                    ]
                    or _go_errors(err, moddir, rc)
                )
            # then every module of the build list (its zip, verified, unpacked)
            rc, out, err, timed_out = _run_host(
                [str(tc.go), "mod", "download", "-json", "all"], moddir, env, deadline - time.monotonic()
            )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if timed_out:
        raise FetchTimeout([f"Downloading the modules took longer than {limit:g} s and was stopped."])
    problems, total = [], 0
    for item in _json_stream(out):
        name = f"{item.get('Path', '?')}@{item.get('Version', '?')}"
        if item.get("Error"):
            problems.append(f"module {name} could not be fetched: {_clean(item['Error'], moddir)}")
        elif item.get("Zip") and os.path.isfile(item["Zip"]):
            total += os.path.getsize(item["Zip"])
    if not problems and rc != 0:
        problems = _go_errors(err, moddir, rc)
    if problems:
        raise FetchError(problems)
    if total > config.max_download_bytes:
        raise FetchError(
            [
                f"The required modules take {total / 1024**2:.1f} MiB; the limit is {config.max_download_bytes / 1024**2:g} MiB."
            ]
        )
    _readable_by_all(config.modcache)
    return [r.split("@")[0] for r in required]


def _go_errors(stderr: str, moddir: Path, rc: int) -> list[str]:
    """The go command's messages, a module it names said so."""
    problems = []
    for line in _clean(stderr, moddir).splitlines():
        m = _GO_MODULE_ERROR.match(line)
        problems.append(f"module {m.group(1)} could not be fetched: {m.group(2)}" if m else line)
    return problems or [f"the go command failed (exit status {rc})."]


def _readable_by_all(modcache: Path) -> None:
    """The sandbox's user (nobody, when the worker is root) reads the cache: the go command
    makes its files read-only for all already; its parents must be passable too."""
    for path in [modcache, *modcache.parents]:
        if str(path) == "/":
            break
        try:
            mode = path.stat().st_mode
            if mode & 0o005 != 0o005 and path.owner() == "root" and os.geteuid() == 0:
                if path == modcache or path.is_relative_to(toolchains.home()):
                    path.chmod(mode | 0o005)
        except OSError:
            return


def _json_stream(text: str) -> list[dict]:
    decoder, items, pos = json.JSONDecoder(), [], 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return items
        item, pos = decoder.raw_decode(text, pos)
        items.append(item)


def _clean(text: str, moddir: Path) -> str:
    """A go command's message without the worker's paths."""
    return text.replace(f"{moddir}/", "").replace(str(moddir), ".").strip()[:2000]


# --- listing packages --------------------------------------------------------------------


@dataclass
class Package:
    """One package as ``go list -deps -json`` describes it."""

    import_path: str
    name: str
    dir: str
    go_files: list[str]
    imports: list[str]
    standard: bool
    main_module: bool
    module: str = ""  # path@version of a dependency module ("" in the main module)
    module_dir: str = ""
    go_version: str = ""  # the module's go line ("1.21")
    dep_only: bool = False
    error: str = ""
    s_files: list[str] = field(default_factory=list)
    embed_patterns: list[str] = field(default_factory=list)
    embed_files: list[str] = field(default_factory=list)
    rel_dir: str = ""  # main module: the directory relative to the module root ("" for the root)

    def files(self, names: list[str] | None = None) -> list[str]:
        """The files (the .go ones by default) as the compiler is given them: relative to
        the module root in the main module, absolute in the module cache otherwise."""
        names = self.go_files if names is None else names
        if self.main_module:
            return [f"{self.rel_dir}/{n}" if self.rel_dir else n for n in names]
        return [f"{self.dir}/{n}" for n in names]

    def embed_config(self) -> dict:
        """The compiler's -embedcfg: each //go:embed pattern with the files it matches (a
        directory matched takes the files under it), and where each file is."""
        patterns = {p: [f for f in self.embed_files if _embed_match(p, f)] for p in self.embed_patterns}
        return {"Patterns": patterns, "Files": {f: f"{self.dir}/{f}" for f in self.embed_files}}

    @property
    def compile_name(self) -> str:
        """-p: what go build passes (main for a command)."""
        return "main" if self.name == "main" else self.import_path


def _embed_match(pattern: str, file: str) -> bool:
    """Whether a //go:embed pattern names the file, or a directory above it."""
    glob = pattern.removeprefix("all:")
    depth = glob.count("/")
    return file.count("/") >= depth and fnmatch.fnmatchcase("/".join(file.split("/")[: depth + 1]), glob)


def check_patterns(patterns: list[str]) -> list[str]:
    for p in patterns:
        if not PATTERN_RE.match(p) or ".." in PurePosixPath(p).parts and not p.endswith("..."):
            raise InvalidInput(f"Package pattern {p[:80]!r} is not a pattern like ./... or ./internal/codec.")
    return patterns or ["./..."]


def sandbox_go_env(tc: toolchains.Toolchain, goarch: str, options: BuildOptions, modcache: Path | None) -> dict:
    return {
        "GOROOT": str(tc.goroot),
        "GOARCH": goarch,
        "GOOS": "js" if goarch == "wasm" else "linux",
        "CGO_ENABLED": "0",
        "GOTOOLCHAIN": "local",
        "GOTELEMETRY": "off",
        "GOENV": "off",
        "GOWORK": "off",
        "GOFLAGS": "-mod=mod",
        "GOPROXY": "off",
        "GOSUMDB": "off",  # verified when fetched; go.sum lines are added from the cache's hashes
        "GOMODCACHE": str(modcache) if modcache else "/tmp/no-modcache",
        "GOCACHE": "/tmp/gocache",
        "GOPATH": "/tmp/gopath",
        **options.env_dict,
    }


def list_packages(
    tc: toolchains.Toolchain,
    moddir: Path,
    patterns: list[str],
    goarch: str,
    options: BuildOptions,
    modcache: Path | None,
    limits: sandbox.Limits,
) -> list[Package]:
    """The packages of ``patterns`` and everything they import, dependencies first (no
    network: the sandbox has none, and GOPROXY=off)."""
    ro = tc.sandbox_paths() + ([modcache] if modcache and modcache.is_dir() else [])
    result = sandbox.run(
        [str(tc.go), "list", "-deps", "-e", f"-json={LIST_FIELDS}", *check_patterns(patterns)],
        env=sandbox_go_env(tc, goarch, options, modcache),
        ro_paths=ro,
        rw_dir=moddir,
        cwd=str(moddir),
        limits=sandbox.Limits(wall_seconds=min(limits.wall_seconds, 60), output_bytes=limits.output_bytes),
    )
    if result.limit:
        raise FetchError([f"go list ran past its {result.limit} limit and was stopped."])
    try:
        items = _json_stream(result.stdout)
    except json.JSONDecodeError:
        items = []
    if result.returncode != 0 and not items:
        raise FetchError([_clean(result.stderr, moddir) or f"go list failed (exit status {result.returncode})."])
    packages = []
    for item in items:
        module = item.get("Module") or {}
        main = bool(module.get("Main"))
        error = (item.get("Error") or {}).get("Err", "")
        pkg = Package(
            import_path=item["ImportPath"],
            name=item.get("Name", ""),
            dir=item.get("Dir", ""),
            go_files=item.get("GoFiles") or [],
            imports=[(item.get("ImportMap") or {}).get(i, i) for i in item.get("Imports") or []],
            standard=bool(item.get("Standard")),
            main_module=main,
            module="" if main or not module else f"{module.get('Path')}@{module.get('Version', '')}",
            module_dir=module.get("Dir", ""),
            go_version=module.get("GoVersion", ""),
            dep_only=bool(item.get("DepOnly")),
            error=_clean(error, moddir),
            s_files=item.get("SFiles") or [],
            embed_patterns=item.get("EmbedPatterns") or [],
            embed_files=item.get("EmbedFiles") or [],
        )
        if main and pkg.dir:
            rel = os.path.relpath(pkg.dir, moddir)
            pkg.rel_dir = "" if rel == "." else rel
        packages.append(pkg)
    return packages


# --- the package cache (CLI) ---------------------------------------------------------------


_ENGINE_SALT: list[str] = []


def engine_salt() -> str:
    """A hash of the engine's own source: a new parser makes new cache keys."""
    if not _ENGINE_SALT:
        digest = hashlib.sha256()
        here = Path(__file__).resolve().parent
        for path in sorted([*here.glob("*.py"), *here.glob("parse/*.py")]):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
        _ENGINE_SALT.append(digest.hexdigest()[:16])
    return _ENGINE_SALT[0]


class PackageCache:
    """Analyses and export data per package key, in a directory (the review CLI's
    ``--cache-dir``, by default ~/.cache/escape-explorer/review)."""

    def __init__(self, root: Path):
        self.root = root

    def _path(self, key: str, suffix: str) -> Path:
        return self.root / key[:2] / f"{key}{suffix}"

    def analysis(self, key: str) -> Analysis | None:
        path = self._path(key, ".json.gz")
        try:
            return Analysis.from_dict(json.loads(gzip.decompress(path.read_bytes())))
        except (OSError, ValueError, TypeError, KeyError):
            return None

    def export(self, key: str) -> Path | None:
        path = self._path(key, ".a")
        return path if path.is_file() else None

    def store(self, key: str, analysis: Analysis | None, export: Path | None) -> None:
        self._path(key, "").parent.mkdir(parents=True, exist_ok=True)
        if export is not None and export.is_file():
            tmp = self._path(key, f".a.{os.getpid()}.tmp")
            shutil.copyfile(export, tmp)
            os.replace(tmp, self._path(key, ".a"))
        if analysis is not None:
            tmp = self._path(key, f".json.gz.{os.getpid()}.tmp")
            data = analysis.to_dict()
            data["raw_output"] = ""  # the cache keeps what the diff needs
            tmp.write_bytes(gzip.compress(json.dumps(data).encode(), 5))
            os.replace(tmp, self._path(key, ".json.gz"))


def package_keys(packages: list[Package], moddir: Path, settings: BuildSettings, tc: toolchains.Toolchain) -> dict:
    """Import path -> key of everything that decides the package's compiler output."""
    keys: dict[str, str] = {}
    base = json.dumps(
        [engine_salt(), tc.version, settings.goarch, settings.lang or "", settings.groups, settings.options.describe()]
    )
    for pkg in packages:  # dependencies first
        if pkg.standard:
            continue
        digest = hashlib.sha256(base.encode())
        digest.update(f"\0{pkg.import_path}\0{pkg.name}\0{pkg.module}\0{pkg.go_version}\0{pkg.main_module}".encode())
        if pkg.main_module:
            for name in pkg.files():
                digest.update(b"\0" + name.encode() + b"\0" + hashlib.sha256((moddir / name).read_bytes()).digest())
        else:
            digest.update("\0".join(pkg.go_files).encode())
        for imp in sorted(pkg.imports):
            digest.update(f"\0{imp}={keys.get(imp, 'std')}".encode())
        keys[pkg.import_path] = digest.hexdigest()
    return keys


# --- building ------------------------------------------------------------------------------


@dataclass
class BuildSettings:
    goarch: str = "amd64"
    lang: str | None = None  # the user's; None: each module's go line
    groups: tuple[str, ...] = ()
    options: BuildOptions = field(default_factory=BuildOptions)
    limits: sandbox.Limits = field(default_factory=sandbox.Limits)
    modcache: Path | None = None

    def __post_init__(self) -> None:
        if not self.groups:
            from .compiler import DIAGNOSTIC_GROUPS

            self.groups = DIAGNOSTIC_GROUPS


@dataclass
class BuildResult:
    analyses: dict[str, Analysis] = field(default_factory=dict)  # analysed packages, by import path
    errors: list[str] = field(default_factory=list)  # packages that could not be compiled at all
    compiled: int = 0  # compiler runs now
    cached: int = 0  # analyses taken from the cache


def module_lang(tc: toolchains.Toolchain, go_version: str) -> str:
    """-lang from a module's go line, as go build passes it (go1.16 without one)."""
    m = re.match(r"1\.([0-9]+)", go_version or "1.16")
    minor = min(int(m.group(1)), tc.minor) if m else 16
    return f"go1.{minor}"


def build(
    tc: toolchains.Toolchain,
    moddir: Path,
    packages: list[Package],
    analyse: set[str],
    settings: BuildSettings,
    *,
    cache: PackageCache | None = None,
    keys: dict[str, str] | None = None,
    jobs: int = 0,
    deadline: float | None = None,
) -> BuildResult:
    """Compile ``analyse`` (import paths of the main module) and what they need, in
    dependency order, in parallel where the order allows."""
    from .compiler import CompileRequest, compiler_argv, read_run, runner_argv
    from .parse import logopt as logopt_parse

    by_path = {p.import_path: p for p in packages}
    needed: set[str] = set()

    def need(path: str) -> None:
        pkg = by_path.get(path)
        if pkg is None or pkg.standard or path in needed:
            return
        needed.add(path)
        for imp in pkg.imports:
            need(imp)

    for path in analyse:
        need(path)
    order = [p for p in packages if p.import_path in needed]
    out_dir = moddir / SCRATCH
    out_dir.mkdir(exist_ok=True)
    std_cfg = tc.importcfg(settings.goarch, settings.options.variant).read_text()
    result = BuildResult()
    exports: dict[str, Path] = {}
    failed: dict[str, str] = {}
    ro = tc.sandbox_paths() + ([settings.modcache] if settings.modcache and settings.modcache.is_dir() else [])
    env_base = {
        "GOROOT": str(tc.goroot),
        "GOARCH": settings.goarch,
        "GOOS": "js" if settings.goarch == "wasm" else "linux",
        "CGO_ENABLED": "0",
        "GOMAXPROCS": "1",
        **settings.options.env_dict,
    }

    def compile_one(index: int, pkg: Package) -> Built:
        if pkg.error:
            return Built(error=f"{pkg.import_path}: {pkg.error}")
        missing = [i for i in pkg.imports if i in failed]
        if missing:
            return Built(error=f"{pkg.import_path}: not compiled: it imports {missing[0]}, which did not compile.")
        analysed = pkg.import_path in analyse
        output = out_dir / f"{index}.a"
        if keys and cache:
            export = cache.export(keys[pkg.import_path])
            cached = cache.analysis(keys[pkg.import_path]) if analysed else None
            if export and (cached or not analysed):
                shutil.copyfile(export, output)  # the sandbox reads the scratch directory only
                return Built(cached, output)
        cfg = out_dir / f"{index}.importcfg"
        lines = [std_cfg.rstrip("\n")]
        lines += [f"packagefile {i}={exports[i]}" for i in pkg.imports if i in exports]
        cfg.write_text("\n".join(lines) + "\n")
        lang = settings.lang if (pkg.main_module and settings.lang) else module_lang(tc, pkg.go_version)
        remaining = settings.limits.wall_seconds if deadline is None else deadline - time.monotonic()
        if remaining <= 0:
            return Built(error=f"{pkg.import_path}: not compiled: {TIME_LIMIT_REACHED}")
        limits = replace(settings.limits, wall_seconds=min(settings.limits.wall_seconds, remaining))
        extra: list[str] = []  # what go build adds for assembly and //go:embed
        if pkg.s_files:
            inc = out_dir / f"{index}.inc"
            inc.mkdir(exist_ok=True)
            (inc / "go_asm.h").write_text("")  # as go build: symabis need it to exist
            symabis = out_dir / f"{index}.symabis"
            asm = [str(tc.goroot / "pkg" / "tool" / "linux_amd64" / "asm"), "-p", pkg.compile_name]
            asm += ["-I", str(inc), "-I", str(tc.goroot / "pkg" / "include"), *_asm_defines(settings)]
            asm += ["-gensymabis", "-o", str(symabis), *pkg.files(pkg.s_files)]
            run = sandbox.run(asm, env=env_base, ro_paths=ro, rw_dir=moddir, cwd=str(moddir), limits=limits)
            if run.returncode != 0 or run.limit:
                message = (run.stderr or run.stdout).strip().replace(f"{moddir}/", "")[:2000]
                return Built(error=f"{pkg.import_path}: {message or run.limit or 'the assembler failed'}")
            extra += ["-symabis", str(symabis), "-asmhdr", str(inc / "go_asm.h")]
        if pkg.embed_files:
            embedcfg = out_dir / f"{index}.embedcfg"
            embedcfg.write_text(json.dumps(pkg.embed_config()))
            extra += ["-embedcfg", str(embedcfg)]
        if analysed:
            files = [SourceFile(name, (moddir / name).read_text(encoding="utf-8")) for name in pkg.files()]
            req = CompileRequest(
                files,
                go=tc.version,
                goarch=settings.goarch,
                lang=lang,
                groups=settings.groups,
                options=settings.options,
            )
            marker = logopt_parse.new_marker()
            compile_argv = compiler_argv(
                tc, req, lang, moddir, package=pkg.compile_name, importcfg=cfg, output=str(output)
            )
            argv = runner_argv(tc, [compile_argv[0], *extra, *compile_argv[1:]], marker)
        else:
            trim = f"{moddir}=>" if pkg.main_module else f"{pkg.module_dir}=>{pkg.module}"
            argv = [str(tc.compile), *extra, "-p", pkg.compile_name, "-importcfg", str(cfg), "-lang", lang]
            argv += ["-trimpath", trim, "-o", str(output), "-c", "1", "-nolocalimports", "-pack"]
            argv += list(settings.options.flags) if pkg.main_module else []
            argv += pkg.files()
        run = sandbox.run(argv, env=env_base, ro_paths=ro, rw_dir=moddir, cwd=str(moddir), limits=limits)
        ok = run.returncode == 0 and not run.limit and output.is_file()
        if not analysed:
            if not ok:
                message = (run.stderr or run.stdout).strip().replace(f"{moddir}/", "")[:2000]
                return Built(error=f"{pkg.import_path}: {message or run.limit or 'the compiler failed'}")
            return Built(None, output, fresh=True)
        analysis = Analysis(
            go=tc.version,
            goarch=settings.goarch,
            lang=lang,
            files=files,
            toolchain=f"go{tc.version}",
            options=settings.options.describe(),
        )
        read_run(analysis, run, files, pkg.compile_name, marker, moddir, limits)
        for d in analysis.diagnostics:
            d.package = pkg.import_path
        return Built(analysis, output if ok else None, fresh=True)

    jobs = jobs or max(1, os.cpu_count() or 1)
    pending = {p.import_path: (i, p) for i, p in enumerate(order)}
    running: dict[Future, str] = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        while pending or running:
            busy = set(pending) | set(running.values())
            for path in [path for path, (_, p) in pending.items() if not any(i in busy for i in p.imports)]:
                index, pkg = pending.pop(path)
                running[pool.submit(compile_one, index, pkg)] = path
            if not running:
                break  # an import cycle: go list reported it as an error
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in done:
                path = running.pop(future)
                built = future.result()
                if built.error:
                    failed[path] = built.error
                    result.errors.append(built.error)
                    continue
                if built.export is not None:
                    exports[path] = built.export
                else:
                    failed[path] = f"{path}: did not compile"
                if built.analysis is not None and path in analyse:
                    result.analyses[path] = built.analysis
                if built.fresh:
                    result.compiled += 1
                    if keys and cache:
                        cache.store(keys[path], built.analysis, built.export)
                elif path in analyse:
                    result.cached += 1
    return result


def _asm_defines(settings: BuildSettings) -> list[str]:
    """The assembler's -D flags, as go build passes them."""
    goarch = settings.goarch
    goos = "js" if goarch == "wasm" else "linux"
    defines = [f"GOOS_{goos}", f"GOARCH_{goarch}"]
    env = settings.options.env_dict
    if goarch == "amd64":
        defines.append(f"GOAMD64_{env.get('GOAMD64', 'v1')}")
    return [arg for d in defines for arg in ("-D", d)]


@dataclass
class Built:
    """One package's compile: its analysis (when analysed), its export data, or why not."""

    analysis: Analysis | None = None
    export: Path | None = None
    error: str = ""
    fresh: bool = False  # compiled now, not taken from the cache


# --- the web path: one archive, one analysis -----------------------------------------------


def write_module(workdir: Path, files: list[SourceFile]) -> None:
    """The archive's files in their directories; .go files with //line directives disabled."""
    for f in files:
        path = workdir / f.name
        path.parent.mkdir(parents=True, exist_ok=True)
        text = line_directives.neutralize(f.text) if f.name.endswith(".go") else f.text
        path.write_text(text, encoding="utf-8")


def import_refusals(tc: toolchains.Toolchain, req, own_module: str) -> list[Diagnostic]:
    """Without a proxy: imports outside the standard library and the module, refused as before."""
    from .compiler import check_imports

    return [
        d
        for d in check_imports(tc, req)
        if not any(
            f'package "{p}"' in d.message and (p == own_module or p.startswith(own_module + "/"))
            for p in [s.path for s in find_imports(req.files)]
        )
    ]


def compile_module(req, tc: toolchains.Toolchain, started: float) -> Analysis:
    """A txtar with a go.mod: every package of the archive (``./...``) analysed, each
    decision carrying its package (``Diagnostic.package``), in one :class:`Analysis`."""
    go_mod = next(f for f in req.other_files if f.name == GO_MOD)
    own = module_path(go_mod.text)
    lang = req.lang
    analysis = Analysis(
        go=tc.version,
        goarch=req.goarch,
        lang=lang or "",
        files=req.files,
        toolchain=f"go{tc.version}",
        options=req.options.describe(),
    )

    def refuse(errors: list[str], diagnostics: list[Diagnostic] = (), status: str = "compile-error") -> Analysis:
        analysis.status = status
        analysis.limit = "time" if status == "limit" else ""
        analysis.diagnostics = list(diagnostics)
        analysis.errors = errors
        analysis.timings.total_ms = (time.perf_counter() - started) * 1000
        return analysis

    config = FetchConfig.from_env()
    if config is None:
        refused = import_refusals(tc, req, own)
        for d in refused:
            d.message = d.message.replace(
                "only standard library packages can be imported here.",
                "only standard library packages and the module's own can be imported here (no module proxy is configured).",
            )
        if refused:
            return refuse([f"{d.file}:{d.line}:{d.column}: {d.message}" for d in refused], refused)
    deadline = time.monotonic() + req.limits.wall_seconds  # fetch, list and build together
    workdir = Path(tempfile.mkdtemp(prefix="ee-mod-"))
    try:
        write_module(workdir, [*req.files, *req.other_files])
        try:
            fetch(tc, workdir, config, seconds=req.limits.wall_seconds)
            settings = BuildSettings(
                goarch=req.goarch,
                lang=lang,
                groups=req.groups,
                options=req.options,
                limits=req.limits,
                modcache=config.modcache if config else None,
            )
            packages = list_packages(tc, workdir, ["./..."], req.goarch, req.options, settings.modcache, req.limits)
        except FetchTimeout as exc:
            return refuse(exc.messages, status="limit")  # the fast lane moves it to the slow one
        except FetchError as exc:
            return refuse(exc.messages)
        mine = [p for p in packages if p.main_module and not p.dep_only]
        if not mine:
            return refuse(["The archive holds no package of its module."])
        built = build(tc, workdir, packages, {p.import_path for p in mine}, settings, jobs=1, deadline=deadline)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    analysis.packages = [p.import_path for p in mine]
    outputs, worst = [], "ok"
    for pkg in mine:
        one = built.analyses.get(pkg.import_path)
        if one is None:
            continue
        analysis.lang = analysis.lang or one.lang
        analysis.diagnostics += one.diagnostics
        analysis.functions += one.functions
        analysis.directives += directives.check(one, req.groups, pkg.compile_name)
        analysis.errors += one.errors
        outputs.append(f"# {pkg.import_path}\n{one.raw_output}")
        analysis.timings.compile_ms += one.timings.compile_ms
        analysis.timings.parse_ms += one.timings.parse_ms
        if one.status != "ok" and worst == "ok":
            worst, analysis.limit = one.status, one.limit
    analysis.errors += [e for e in built.errors if e not in analysis.errors]
    analysis.status = worst if worst != "ok" else ("compile-error" if built.errors else "ok")
    if analysis.status == "compile-error" and any(e.endswith(TIME_LIMIT_REACHED) for e in built.errors):
        analysis.status, analysis.limit = "limit", "time"
    analysis.raw_output = "\n".join(outputs)
    analysis.lang = analysis.lang or module_lang(tc, "")
    analysis.timings.total_ms = (time.perf_counter() - started) * 1000
    return analysis
