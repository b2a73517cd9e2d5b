"""Time the repository review on a generated module of N packages (default 50).

    .venv/bin/python scripts/review_bench.py [--packages 50] [--changed 5]

Generates a git repository whose module has N packages (each three files of about 60
lines: structs, methods, closures, slices, maps, fmt/strings/sort from the standard
library; each package imports the two before it), commits a base revision, changes
``--changed`` packages in a head revision, and times ``python -m worker.review_cli``:

1. ``--all`` without a cache: every package analysed on both sides (the cold worst case);
2. without a cache: the changed packages and their importers only;
3. the same again with the cache warm: nothing re-analysed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import gomodules  # noqa: E402

FILE = """package {name}

import (
	"fmt"
	"sort"
	"strings"
{imports})

type Record{i}{k} struct {{
	ID    int
	Name  string
	Tags  []string
	Score float64
	Next  *Record{i}{k}
}}

func NewRecord{i}{k}(id int, name string) *Record{i}{k} {{
	r := Record{i}{k}{{ID: id, Name: name}}
	return &r
}}

func (r *Record{i}{k}) Label() string {{
	return fmt.Sprintf("%d:%s", r.ID, strings.ToUpper(r.Name))
}}

func (r *Record{i}{k}) AddTag(tag string) {{
	r.Tags = append(r.Tags, tag)
	sort.Strings(r.Tags)
}}

func Sum{i}{k}(xs []float64) float64 {{
	total := 0.0
	for i := range xs {{
		total += xs[i]
	}}
	return total
}}

func Index{i}{k}(rs []*Record{i}{k}) map[string]*Record{i}{k} {{
	m := make(map[string]*Record{i}{k}, len(rs))
	for _, r := range rs {{
		m[r.Name] = r
	}}
	return m
}}

func Filter{i}{k}(rs []*Record{i}{k}, keep func(*Record{i}{k}) bool) []*Record{i}{k} {{
	var out []*Record{i}{k}
	for _, r := range rs {{
		if keep(r) {{
			out = append(out, r)
		}}
	}}
	return out
}}

func Window{i}{k}(b []byte, n int) []byte {{
	return b[n : n+8]
}}

func Use{i}{k}() int {{
{uses}	return 0
}}
"""


def package_files(i: int, changed: bool) -> dict[str, str]:
    deps = [j for j in (i - 1, i - 2) if j >= 0]
    imports = "".join(f'\n\tp{j} "example.test/big/p{j}"\n' for j in deps)
    uses = "".join(f"\t_ = p{j}.Sum{j}0(nil)\n" for j in deps)
    files = {}
    for k in range(3):
        text = FILE.format(name=f"p{i}", i=i, k=k, imports=imports if k == 0 else "", uses=uses if k == 0 else "")
        if changed and k == 1:
            text += f"\nvar keep{i} *int\n\nfunc Leak{i}(x int) {{ keep{i} = &x }}\n"
        files[f"p{i}/f{k}.go"] = text
    return files


def make_repo(repo: Path, packages: int, changed: int) -> tuple[str, str]:
    gomodules.init_repo(repo)
    base: dict[str, str] = {"go.mod": "module example.test/big\n\ngo 1.22\n"}
    for i in range(packages):
        base.update(package_files(i, False))
    first = gomodules.commit(repo, base, "base")
    step = max(1, packages // max(changed, 1))
    head = {}
    for i in range(0, packages, step)[:changed]:
        head.update(package_files(i, True))
    second = gomodules.commit(repo, head, "head")
    gomodules.readable(repo)
    return first, second


def timed(argv: list[str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    print("   ", proc.stderr.strip().splitlines()[0] if proc.stderr.strip() else f"exit {proc.returncode}")
    if proc.returncode not in (0, 1):
        print(proc.stderr[-2000:])
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--packages", type=int, default=50)
    parser.add_argument("--changed", type=int, default=5)
    args = parser.parse_args()
    work = gomodules.world_readable_dir("ee-bench-")
    try:
        repo = work / "repo"
        base, head = make_repo(repo, args.packages, args.changed)
        lines = sum(p.read_text().count("\n") for p in repo.rglob("*.go"))
        print(f"{args.packages} packages, {lines} lines of Go; {args.changed} packages changed; {os.cpu_count()} CPUs")
        cli = [sys.executable, "-m", "worker.review_cli", "--repo", str(repo), "--base", base, "--head", head]
        cache = Path(tempfile.mkdtemp(prefix="ee-bench-cache-"))
        print("1. --all, no cache:")
        t1 = timed([*cli, "--all", "--no-cache", "--format", "json"])
        print(f"   {t1:.1f} s")
        print("2. changed packages and their importers, cold cache:")
        t2 = timed([*cli, "--cache-dir", str(cache), "--format", "json"])
        print(f"   {t2:.1f} s")
        print("3. the same again, warm cache:")
        t3 = timed([*cli, "--cache-dir", str(cache), "--format", "json"])
        print(f"   {t3:.1f} s")
        shutil.rmtree(cache, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
