"""Toolchain bookkeeping: what counts as installed and prepared."""

from pathlib import Path

from worker.toolchains import Toolchain, installed


def fake_toolchain(root: Path, files: list[str]) -> Toolchain:
    tc = Toolchain("1.27.3", root)
    pkg = tc.std_dir("amd64") / "pkg"
    pkg.mkdir(parents=True)
    lines = []
    for name in ("runtime", "fmt"):
        lines.append(f"packagefile {name}={pkg / (name + '.a')}")
        if name in files:
            (pkg / f"{name}.a").write_bytes(b"!<arch>\n")
    tc.importcfg("amd64").write_text("\n".join(lines) + "\n")
    return tc


def test_a_std_with_a_missing_package_file_is_incomplete_and_gets_prepared_again(tmp_path):
    # what two concurrent installs once left behind: an importcfg naming files that are gone
    broken = fake_toolchain(tmp_path / "a", files=["runtime"])
    assert not broken.std_is_complete("amd64")
    complete = fake_toolchain(tmp_path / "b", files=["runtime", "fmt"])
    assert complete.std_is_complete("amd64") and complete.goarches() == ["amd64"]


def test_installed_toolchains_are_listed_newest_first():
    versions = [tuple(int(p) for p in tc.version.split(".")) for tc in installed()]
    assert versions == sorted(versions, reverse=True) and versions
