"""Review two git revisions of a Go module: what the pull request changed in the compiler's decisions.

``python -m worker.review_cli --repo DIR --base REV --head REV [PATTERN …]``

Both revisions are exported from git (``git archive``, nothing in the repository is
touched), their dependencies fetched through the machine's module proxy into its module
cache (worker/modules.py), their packages listed (``go list``, patterns as ``go`` takes
them, default ``./...``) and the packages that differ — in their own files or in any
package or module they import, which can change what is inlined into them — compiled on
both sides in the sandbox and diffed (worker/compare.py). ``--all`` analyses every
package. Analyses are cached per package key (toolchain, GOARCH, language version,
flags, files, the keys of its imports) in ``--cache-dir``, so a second run re-analyses
only what changed.

``--fail-on new-heap,lost-inline,…`` chooses what makes the run fail (exit 1), optionally
only in ``--hot`` packages.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from dataclasses import asdict, dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from . import directives, modules, sandbox, toolchains
from .analysis import Analysis
from .compare import GROUPS, Decision, Diff, compare, short_name
from .flags import BuildOptions
from .inputs import InvalidInput
from .review import Links, _code, _escape, _markdown_rows, describe, diff_payload, position
from .review import render_text as render_diff_text
from .sarif import FINGERPRINT, LEVELS, SARIF_SCHEMA, SARIF_VERSION, TOOL_NAME, _rule, code_point_column

# --fail-on: what fails the run, each a predicate over one package's diff
FAIL_ON: dict[str, str] = {
    "new-heap": "a new heap allocation (moved to heap, escapes to heap)",
    "new-bounds-check": "a new bounds check",
    "new-nil-check": "a new nil check",
    "new-write-barrier": "a new write barrier",
    "new-leak": "a parameter that newly leaks",
    "new-large-copy": "a new large copy",
    "new-call-not-inlined": "a new call to an inlinable function not inlined at its site",
    "lost-inline": "a call no longer inlined, or a function no longer inlinable",
    "frame-growth": "a function's stack frame that grew",
    "any": "any change in the compiler's decisions",
}
_ADDED_GROUP = {
    "new-heap": "heap",
    "new-bounds-check": "bounds-check",
    "new-nil-check": "nil-check",
    "new-write-barrier": "write-barrier",
    "new-leak": "leak",
    "new-large-copy": "large-copy",
    "new-call-not-inlined": "call-not-inlined",
}
FORMATS = ("text", "markdown", "json", "sarif")


class RepoError(RuntimeError):
    """Bad revisions, no module, a module that cannot be fetched or listed: exit 2."""


@dataclass
class RepoOptions:
    repo: Path
    base: str
    head: str
    patterns: list[str] = field(default_factory=lambda: ["./..."])
    all_packages: bool = False
    go: str | None = None
    goarch: str = "amd64"
    lang: str | None = None
    options: BuildOptions = field(default_factory=BuildOptions)
    cache_dir: Path | None = None  # None: no cache
    modcache: Path | None = None
    jobs: int = 0
    importers: str = "direct"  # also analyse importers of changed packages: none | direct | all


@dataclass
class Tree:
    """One revision, exported: its module root and its packages."""

    rev: str
    commit: str
    root: Path
    packages: list[modules.Package] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=dict)

    def mine(self) -> dict[str, modules.Package]:
        """The main module's packages the patterns matched."""
        return {p.import_path: p for p in self.packages if p.main_module and not p.dep_only}


@dataclass
class PackageDiff:
    package: str
    status: str  # changed | added | removed
    diff: Diff
    dir: str = ""
    sources: dict[str, list[str]] = field(default_factory=dict)  # the head side's files (SARIF columns)
    directives: list = field(default_factory=list)  # the head side's //gcassert: results (worker/directives.py)


@dataclass
class RepoReview:
    base: Tree
    head: Tree
    go: str
    goarch: str
    packages: list[PackageDiff] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # unchanged packages, not analysed
    errors: list[str] = field(default_factory=list)
    compiled: int = 0
    cached: int = 0
    seconds: float = 0.0
    module_prefix: str = ""  # the module root inside the repository ("" at its top)


# --- git ---------------------------------------------------------------------------------


def git(repo: Path, *args: str, binary: bool = False) -> Any:
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=False)
    if proc.returncode != 0:
        raise RepoError(f"git {' '.join(args[:3])}: {proc.stderr.decode(errors='replace').strip()[:500]}")
    return proc.stdout if binary else proc.stdout.decode().strip()


def export_tree(repo: Path, rev: str, dest: Path) -> Tree:
    """The revision's module (the repository's subdirectory ``repo`` names) under ``dest``."""
    try:
        commit = git(repo, "rev-parse", "--verify", "--end-of-options", f"{rev}^{{commit}}")
    except RepoError:
        raise RepoError(f"{rev!r} is not a revision of {repo}.") from None
    prefix = git(repo, "rev-parse", "--show-prefix")
    top = git(repo, "rev-parse", "--show-toplevel")
    args = ["archive", "--format=tar", commit]
    if prefix:
        args += ["--", prefix]
    data = git(Path(top), *args, binary=True)
    dest.mkdir(parents=True)
    with tarfile.open(fileobj=_bytes_io(data)) as tar:
        tar.extractall(dest, filter="data")
    root = dest / prefix if prefix else dest
    if not (root / modules.GO_MOD).is_file():
        raise RepoError(f"{rev} has no go.mod in {prefix or 'the repository top'}: not a Go module.")
    return Tree(rev, commit, root)


def _bytes_io(data: bytes):
    import io

    return io.BytesIO(data)


# --- the machine's module proxy and cache -------------------------------------------------


def fetch_config(modcache: Path | None = None) -> modules.FetchConfig | None:
    """The machine's settings, as the go command would take them from the environment:
    GOPROXY (Go's default when unset; ``off`` fetches nothing), GOSUMDB, GONOSUMDB,
    GOPRIVATE, GOVCS; the module cache $GOMODCACHE, else the explorer's own."""
    proxy = os.environ.get("GOPROXY", "https://proxy.golang.org,direct").strip()
    cache = modcache or Path(os.environ.get("GOMODCACHE") or toolchains.home() / "modcache")
    if not proxy or proxy == "off":
        return None
    return modules.FetchConfig(
        goproxy=proxy,
        modcache=cache,
        gosumdb=os.environ.get("GOSUMDB", ""),
        gonosumdb=os.environ.get("GONOSUMDB", ""),
        goprivate=os.environ.get("GOPRIVATE", ""),
        govcs=os.environ.get("GOVCS", "*:off"),
        max_modules=int(os.environ.get("EXPLORER_MAX_MODULES", "500")),
        max_download_bytes=int(float(os.environ.get("EXPLORER_MAX_DOWNLOAD_MB", "2048")) * 1024**2),
        seconds=float(os.environ.get("EXPLORER_DOWNLOAD_SECONDS", "600")),
    )


def default_cache_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "escape-explorer" / "review"


# --- the review ----------------------------------------------------------------------------


def review(opts: RepoOptions) -> RepoReview:
    started = time.monotonic()
    tc = toolchains.get(opts.go)
    if tc is None:
        raise RepoError(f"Go {opts.go or ''} is not installed here (python -m worker.toolchains install).".strip())
    if opts.goarch not in tc.goarches():
        raise RepoError(f"GOARCH {opts.goarch} is not prepared for Go {tc.version}.")
    repo = opts.repo.resolve()
    if not repo.is_dir():
        raise RepoError(f"{opts.repo} is not a directory.")
    config = fetch_config(opts.modcache)
    modcache = config.modcache if config else (opts.modcache or Path(os.environ.get("GOMODCACHE") or "/nonexistent"))
    settings = modules.BuildSettings(goarch=opts.goarch, lang=opts.lang, options=opts.options, modcache=modcache)
    cache = modules.PackageCache(opts.cache_dir) if opts.cache_dir else None
    work = Path(tempfile.mkdtemp(prefix="ee-review-"))
    work.chmod(0o755)  # the sandbox's user (nobody, under root) reaches the trees
    try:
        trees = []
        for name, rev in (("base", opts.base), ("head", opts.head)):
            tree = export_tree(repo, rev, work / name)
            try:
                modules.fetch(tc, tree.root, config)
                tree.packages = modules.list_packages(
                    tc,
                    tree.root,
                    opts.patterns,
                    opts.goarch,
                    opts.options,
                    modcache if modcache.is_dir() else None,
                    sandbox.Limits(wall_seconds=120),
                )
            except modules.FetchError as exc:
                raise RepoError(f"{rev}: " + "; ".join(exc.messages)) from None
            tree.keys = modules.package_keys(tree.packages, tree.root, settings, tc)
            trees.append(tree)
        base, head = trees
        result = RepoReview(base, head, tc.version, opts.goarch)
        result.module_prefix = git(repo, "rev-parse", "--show-prefix").rstrip("/")
        mine_a, mine_b = base.mine(), head.mine()
        listed_errors = [f"{t.rev}: {p.import_path}: {p.error}" for t in trees for p in t.mine().values() if p.error]
        wanted = changed_packages(base, head, opts.importers)
        chosen = []
        for path in sorted(mine_a.keys() | mine_b.keys()):
            if opts.all_packages or path in wanted:
                chosen.append(path)
            else:
                result.skipped.append(path)
        built = []
        for tree, mine in ((base, mine_a), (head, mine_b)):
            wanted = {p for p in chosen if p in mine}
            b = modules.build(
                tc, tree.root, tree.packages, wanted, settings, cache=cache, keys=tree.keys, jobs=opts.jobs
            )
            result.compiled += b.compiled
            result.cached += b.cached
            result.errors += [f"{tree.rev}: {e}" for e in b.errors]
            built.append(b)
        result.errors += [e for e in listed_errors if e not in result.errors]
        for path in chosen:
            a, b = built[0].analyses.get(path), built[1].analyses.get(path)
            if path in mine_a and a is None or path in mine_b and b is None:
                continue  # it could not be compiled at all: named in errors
            broken = [(t, x) for t, x in ((base, a), (head, b)) if x is not None and x.status != "ok"]
            for tree, x in broken:
                result.errors.append(f"{tree.rev}: {path}: " + "; ".join(x.errors[:5] or [x.status]))
            if broken:
                continue
            status = "changed" if a and b else "added" if b else "removed"
            empty = Analysis(go=tc.version, goarch=opts.goarch, lang=(a or b).lang)
            pkg = mine_b.get(path) or mine_a.get(path)
            sources = {f.name: f.text.splitlines() for f in (b or a).files}
            checked = directives.check(b, None, mine_b[path].compile_name) if b is not None else []
            result.packages.append(
                PackageDiff(path, status, compare(a or empty, b or empty), pkg.rel_dir, sources, checked)
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result.seconds = time.monotonic() - started
    return result


def changed_packages(base: Tree, head: Tree, importers: str = "direct") -> set[str]:
    """The main module's packages to analyse: those whose files changed (or that exist on
    one side only, or import another module's package whose version changed), and their
    importers: ``direct`` ones (what a changed function's inlining or escape summary
    reaches first), ``all`` (every package whose key changed: exact, and on a deep
    change, most of the module) or ``none``."""
    if importers == "all":
        paths = {p for t in (base, head) for p in t.mine()}
        return {p for p in paths if base.keys.get(p) != head.keys.get(p)}
    own_a, own_b = _own_digests(base), _own_digests(head)
    touched = {p for p in own_a.keys() | own_b.keys() if own_a.get(p) != own_b.get(p)}
    if importers == "direct":
        first = set(touched)  # importers of the changed packages, not importers of importers
        for tree in (base, head):
            touched |= {p.import_path for p in tree.packages if p.main_module and first.intersection(p.imports)}
    return touched


def _own_digests(tree: Tree) -> dict[str, str]:
    """Per main-module package: its files, and the keys of other modules' packages it imports."""
    by_path = {p.import_path: p for p in tree.packages}
    digests = {}
    for pkg in tree.packages:
        if not pkg.main_module:
            continue
        digest = hashlib.sha256(pkg.name.encode())
        for name in pkg.files():
            digest.update(b"\0" + name.encode() + b"\0" + (tree.root / name).read_bytes())
        for imp in sorted(pkg.imports):
            dep = by_path.get(imp)
            if dep is not None and not dep.main_module and not dep.standard:
                digest.update(f"\0{imp}={tree.keys.get(imp, '')}".encode())
        digests[pkg.import_path] = digest.hexdigest()
    return digests


# --- through a server's API -------------------------------------------------------------------

IGNORED_DIRS = ("testdata", "vendor")


def module_packages(root: Path, module: str) -> dict[str, dict[str, str]]:
    """Import path -> {file path relative to the module root: text} of a module on disk:
    non-test .go files, directories go ignores (testdata, vendor, _x, .x) and nested
    modules left out. (The server's go list applies build constraints.)"""
    packages: dict[str, dict[str, str]] = {}
    for path in sorted(root.rglob("*.go")):
        rel = path.relative_to(root)
        parts = rel.parts[:-1]
        if path.name.endswith("_test.go") or any(p in IGNORED_DIRS or p[0] in "._" for p in parts):
            continue
        if any((root.joinpath(*parts[: i + 1]) / modules.GO_MOD).is_file() for i in range(len(parts))):
            continue  # another module
        import_path = "/".join([module, *parts])
        packages.setdefault(import_path, {})[rel.as_posix()] = path.read_text(encoding="utf-8", errors="replace")
    return packages


def _imports_of(files: dict[str, str]) -> set[str]:
    from .analysis import SourceFile
    from .inputs import find_imports

    return {site.path for site in find_imports([SourceFile(n, t) for n, t in files.items()])}


def review_via_server(opts: RepoOptions, server, settings) -> RepoReview:
    """The same review, compiled by an Escape Explorer server (``--server URL``): one
    request per package and side, a txtar of go.mod, go.sum, the package's files and those
    of the module's packages it imports (the server fetches other modules through its own
    proxy). Each archive must fit the server's limits (docs/API.md)."""
    from .analysis import SourceFile

    started = time.monotonic()
    repo = opts.repo.resolve()
    work = Path(tempfile.mkdtemp(prefix="ee-review-"))
    try:
        trees, files = [], []
        for name, rev in (("base", opts.base), ("head", opts.head)):
            tree = export_tree(repo, rev, work / name)
            module = modules.module_path((tree.root / modules.GO_MOD).read_text())
            trees.append(tree)
            files.append((module, module_packages(tree.root, module), tree.root))
        base, head = trees
        result = RepoReview(base, head, "", opts.goarch)
        result.module_prefix = git(repo, "rev-parse", "--show-prefix").rstrip("/")
        (mod_a, pk_a, _), (mod_b, pk_b, _) = files
        matched = {p for p in pk_a.keys() | pk_b.keys() if _matches(p, mod_b or mod_a, opts.patterns)}
        touched = {p for p in matched if pk_a.get(p) != pk_b.get(p)}
        if opts.importers != "none":
            for _ in range(len(matched) if opts.importers == "all" else 1):
                more = {p for pk in (pk_a, pk_b) for p in matched if p in pk and _imports_of(pk[p]) & touched}
                if more <= touched:
                    break
                touched |= more
        for path in sorted(matched):
            if not (opts.all_packages or path in touched):
                result.skipped.append(path)
                continue
            sides = []
            for (module, packages, root), tree in zip(files, trees, strict=True):
                if path not in packages:
                    sides.append(None)
                    continue
                archive = [
                    SourceFile(n, (root / n).read_text()) for n in (modules.GO_MOD, "go.sum") if (root / n).is_file()
                ]
                for dep in _closure(path, packages, module):
                    archive += [SourceFile(n, t) for n, t in sorted(packages[dep].items())]
                compiled = server.compile(archive, settings)
                one = compiled.analysis
                own = set(packages[path])
                one.diagnostics = [d for d in one.diagnostics if d.file in own]
                one.functions = [f for f in one.functions if f.file in own]
                one.files = [f for f in one.files if f.name in own]
                result.go = result.go or one.go
                if one.status != "ok":
                    result.errors.append(f"{tree.rev}: {path}: " + "; ".join(one.errors[:3] or [one.status]))
                sides.append(one)
            a, b = sides
            if (a is not None and a.status != "ok") or (b is not None and b.status != "ok"):
                continue
            empty = Analysis(go=(a or b).go, goarch=opts.goarch, lang=(a or b).lang)
            status = "changed" if a and b else "added" if b else "removed"
            rel = path[len(mod_b or mod_a) :].lstrip("/")
            sources = {f.name: f.text.splitlines() for f in (b or a).files}
            result.packages.append(PackageDiff(path, status, compare(a or empty, b or empty), rel, sources))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result.seconds = time.monotonic() - started
    return result


def _matches(import_path: str, module: str, patterns: list[str]) -> bool:
    rel = import_path[len(module) :].lstrip("/") or "."
    for pattern in patterns or ["./..."]:
        p = pattern.removeprefix("./").rstrip("/") or "."
        if p == "..." or p == rel or import_path == pattern:
            return True
        if p.endswith("/...") and (rel == p[:-4] or rel.startswith(p[:-3])):
            return True
        if pattern.endswith("/...") and import_path.startswith(pattern[:-3]):
            return True
    return False


def _closure(path: str, packages: dict[str, dict[str, str]], module: str) -> list[str]:
    """The package and the module's packages it imports, transitively."""
    seen, todo = [], [path]
    while todo:
        p = todo.pop()
        if p in seen or p not in packages:
            continue
        seen.append(p)
        todo += [i for i in _imports_of(packages[p]) if i == module or i.startswith(module + "/")]
    return seen


# --- what fails the run ----------------------------------------------------------------------


def parse_fail_on(text: str | None) -> list[str]:
    names = [n.strip() for n in (text or "").split(",") if n.strip()]
    unknown = [n for n in names if n not in FAIL_ON]
    if unknown:
        raise InvalidInput(f"--fail-on: unknown {', '.join(unknown)}; choose from {', '.join(FAIL_ON)}.")
    return names


def in_hot(pkg: PackageDiff, hot: list[str]) -> bool:
    """Whether a package is one of the --hot patterns (import paths, or ./dir patterns; ... as in go)."""
    if not hot:
        return True
    for pattern in hot:
        rel = pattern.removeprefix("./").rstrip("/")
        candidates = [pkg.package, pkg.dir or "."]
        glob = rel.replace("...", "*")
        if any(fnmatchcase(c, glob) or fnmatchcase(c, pattern.replace("...", "*")) for c in candidates):
            return True
        if rel.endswith("/...") and (pkg.dir == rel[:-4] or pkg.package == rel[:-4]):
            return True
    return False


def violations(review: RepoReview, fail_on: list[str], hot: list[str]) -> list[str]:
    """One line per decision that fails the run."""
    found = []
    for p in review.packages:
        if not in_hot(p, hot):
            continue
        d = p.diff
        for name in fail_on:
            group = _ADDED_GROUP.get(name)
            if group:
                found += [f"{name}: {p.package}: {_line(x)}" for x in d.added if x.group == group]
            elif name == "lost-inline":
                found += [f"{name}: {p.package}: {_line(x)}" for x in d.removed if x.group == "inlined-call"]
                found += [
                    f"{name}: {p.package}: {c.description}"
                    for c in d.changed
                    if c.group == "inlinability" and c.before.kind == "can-inline" and c.after.kind == "cannot-inline"
                ]
            elif name == "frame-growth":
                found += [
                    f"{name}: {p.package}: frame of {short_name(f.function)} {f.before} -> {f.after} bytes"
                    for f in d.frames
                    if f.after > f.before
                ]
            elif name == "any" and not d.empty:
                found.append(f"{name}: {p.package}: {d.summary.headline}")
    return found


def _line(d: Decision) -> str:
    return f"{describe(d)} in {short_name(d.function)} ({position(d)})"


# --- output ----------------------------------------------------------------------------------


def headline(review: RepoReview) -> str:
    changed = [p for p in review.packages if not p.diff.empty]
    return (
        f"{len(review.packages)} package(s) analysed, {len(changed)} with changed decisions, "
        f"{len(review.skipped)} unchanged package(s) skipped"
    )


def short_rev(tree: Tree) -> str:
    """The revision as the user named it (a full commit hash shortened)."""
    return tree.rev[:12] if tree.rev == tree.commit else tree.rev


def _revs(review: RepoReview) -> str:
    return (
        f"{short_rev(review.base)} ({review.base.commit[:12]}) → {short_rev(review.head)} ({review.head.commit[:12]})"
    )


def render_text(review: RepoReview) -> str:
    out = [f"{_revs(review)} · Go {review.go} · {review.goarch}", headline(review) + ".", ""]
    out += [f"error: {e}" for e in review.errors]
    for p in review.packages:
        out.append(f"== {p.package} ({p.status}) ==")
        out += render_diff_text(p.diff).splitlines()[3:]  # without the per-side settings, said once above
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def render_markdown(review: RepoReview) -> str:
    out = [
        f"### Compiler decisions: {_code(short_rev(review.base))} → {_code(short_rev(review.head))}",
        "",
        f"**{_escape(headline(review))}** · Go {_escape(review.go)} · {_escape(review.goarch)}",
        "",
    ]
    for e in review.errors:
        out += [f"> :warning: {_code(e)}", ""]
    changed = [p for p in review.packages if not p.diff.empty]
    if changed:
        out += ["| Package | Change |", "|---|---|"]
        out += [f"| {_code(p.package)} | {_escape(p.diff.summary.headline)} |" for p in changed]
        out.append("")
    for p in changed:
        out += [f"#### {_code(p.package)}" + (f" ({p.status})" if p.status != "changed" else ""), ""]
        out += ["| | Decision | Function | Where |", "|---|---|---|---|"]
        out += _markdown_rows(p.diff, Links())[:200]
        out.append("")
    if review.skipped:
        out.append(f"<sub>Unchanged, not analysed: {', '.join(_code(s) for s in review.skipped[:50])}</sub>")
    return "\n".join(out).rstrip() + "\n"


def to_json(review: RepoReview, failures: list[str]) -> dict[str, Any]:
    return {
        "base": {"rev": review.base.rev, "commit": review.base.commit},
        "head": {"rev": review.head.rev, "commit": review.head.commit},
        "go": review.go,
        "goarch": review.goarch,
        "headline": headline(review),
        "packages": [
            {
                "package": p.package,
                "dir": p.dir,
                "status": p.status,
                "diff": diff_payload(p.diff),
                "directives": [asdict(r) for r in p.directives],
            }
            for p in review.packages
        ],
        "skipped": review.skipped,
        "errors": review.errors,
        "failures": failures,
        "compiled": review.compiled,
        "cached": review.cached,
        "seconds": round(review.seconds, 3),
    }


def to_sarif(review: RepoReview) -> dict[str, Any]:
    """The decisions the head revision added (and those whose state changed), as SARIF:
    what a code-scanning tool should flag on the pull request. Paths are relative to the
    module root (``SRCROOT``; ``properties.moduleRoot`` says where it is in the
    repository), and a location outside the module's own files is left out."""
    results, kinds = [], []
    for p in review.packages:
        for d, change in [(d, "added") for d in p.diff.added] + [(c.after, "changed") for c in p.diff.changed]:
            if d.kind not in kinds:
                kinds.append(d.kind)
            results.append((p, d, change, set(p.diff.b.files)))
    rules = {k: i for i, k in enumerate(kinds)}
    out = []
    for p, d, change, files in results:
        location: dict[str, Any] = {}
        if d.file in files and _inside(d.file):
            region = {"startLine": d.line} if d.line >= 1 else {}
            if region and d.column >= 1:
                region["startColumn"] = code_point_column(p.sources.get(d.file, []), d.line, d.column)
            physical = {"artifactLocation": {"uri": d.file, "uriBaseId": "SRCROOT"}}
            if region:
                physical["region"] = region
            location["physicalLocation"] = physical
        if d.function:
            location["logicalLocations"] = [{"fullyQualifiedName": d.function, "kind": "function"}]
        identity = "\x00".join([d.kind, d.function, d.context, d.subject or d.message])
        out.append(
            {
                "ruleId": d.kind,
                "ruleIndex": rules[d.kind],
                "level": LEVELS.get(d.kind, "note"),
                "message": {"text": f"{'New' if change == 'added' else 'Changed'}: {describe(d)}"},
                "locations": [location] if location else [],
                "partialFingerprints": {FINGERPRINT: hashlib.sha256(identity.encode()).hexdigest()[:32]},
                "properties": {"package": p.package, "change": change, "subject": d.subject},
            }
        )
    run = {
        "tool": {"driver": {"name": TOOL_NAME, "version": review.go, "rules": [_rule(k) for k in kinds]}},
        "results": out,
        "columnKind": "unicodeCodePoints",
        "properties": {
            "base": review.base.commit,
            "head": review.head.commit,
            "go": review.go,
            "goarch": review.goarch,
            "moduleRoot": review.module_prefix,
            "packages": [p.package for p in review.packages],
        },
    }
    if review.errors:
        run["invocations"] = [
            {
                "executionSuccessful": False,
                "toolExecutionNotifications": [{"level": "error", "message": {"text": e}} for e in review.errors],
            }
        ]
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def _inside(path: str) -> bool:
    """A relative path that stays inside the module root."""
    parts = path.split("/")
    return bool(path) and not path.startswith("/") and ".." not in parts and "" not in parts and ":" not in parts[0]


def render(review: RepoReview, fmt: str, failures: list[str]) -> str:
    if fmt == "json":
        return json.dumps(to_json(review, failures), indent=2, ensure_ascii=False) + "\n"
    if fmt == "sarif":
        return json.dumps(to_sarif(review), indent=2, ensure_ascii=False) + "\n"
    if fmt == "markdown":
        return render_markdown(review)
    return render_text(review)


__all__ = ["FAIL_ON", "FORMATS", "GROUPS", "RepoError", "RepoOptions", "review", "render", "violations"]
