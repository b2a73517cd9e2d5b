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


def test_the_launcher_is_built_by_the_c_compiler_once_and_again_when_its_source_changes(tmp_path, monkeypatch):
    import subprocess

    from worker import spawn, toolchains

    monkeypatch.setenv("ESCAPE_EXPLORER_HOME", str(tmp_path))
    source = tmp_path / "launch.c"
    source.write_bytes(spawn.LAUNCHER_SOURCE.read_bytes())
    monkeypatch.setattr(spawn, "LAUNCHER_SOURCE", source)
    said: list[str] = []
    built = toolchains.build_launcher(log=said.append)
    assert built == tmp_path / "bin" / "ee-launch" and said and "building" in said[0]
    done = subprocess.run(
        [str(built), "-cpu=1", "-as=100000000", "-fsize=1000", "-nproc=1000", "--", "/bin/echo", "hi"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and done.stdout == "hi\n", done
    said.clear()
    assert toolchains.build_launcher(log=said.append) == built and not said  # unchanged: not built again
    source.write_text(source.read_text() + "\n/* changed */\n")
    assert toolchains.build_launcher(log=said.append) == built and said  # changed: built again
    built.unlink()
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))  # no C compiler
    monkeypatch.delenv("CC", raising=False)
    said.clear()
    assert toolchains.build_launcher(log=said.append) is None and "no C compiler" in said[0]
