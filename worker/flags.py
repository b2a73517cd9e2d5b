"""Compiler flags and build settings a user may ask for: an allow-list, checked exactly.

A request may add compiler flags (``-l``, ``-N``, ``-m=3``, ``-d=escapedebug=1``, …) and
build settings (``GOAMD64=v3``, …) to the engine's own. Each is checked against the
shapes below (whole-string matches, ASCII only, bounded lengths); anything else is an
InvalidInput that names the allowed set. A flag of the right shape that the chosen
toolchain does not know (``-d=escapemutationscalls=1`` before Go 1.23) is passed on: the
compiler's own message comes back as the result's error.

The user's flags come after the engine's, so where both set the same thing (``-m``) the
user's wins. Build settings change how the standard library was compiled too, so each
needs the standard library prepared with it (``python -m worker.toolchains install V
--goarch A --env GOAMD64=v3``); a setting whose library is not prepared is refused with
that command in the message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .inputs import InvalidInput

MAX_FLAGS = 16
MAX_FLAG_LENGTH = 64

# Whole flags, with what each does (shown in /kinds#flags and the page).
FLAGS: dict[str, tuple[str, str]] = {
    "-l": (
        r"-l(?:=[0-4])?",
        "disable inlining (-l), or set the inlining level (-l=4: more aggressive, old toolchains)",
    ),
    "-N": (r"-N", "disable optimizations: what escapes and allocates without the optimizer"),
    "-m": (r"-m(?:=[1-4])?", "the level of escape/inlining diagnostics (the engine uses -m=2; -m=1 drops the flows)"),
    "-B": (r"-B", "disable bounds checking (compare where bounds checks were)"),
    "-smallframes": (r"-smallframes", "reduce the size of variables allocated on the stack (more move to the heap)"),
    "-spectre": (r"-spectre=(?:all|index|ret)", "Spectre mitigations: index masking, return retpolines"),
    "-live": (r"-live", "print liveness information at each call"),
    "-wb": (r"-wb=(?:true|false)", "enable or disable write barriers (testing only)"),
}

# -d keys and the values each may take (the engine's own: wb, nil, ssa/check_bce/debug,
# loopvar, pctab are also set by the diagnostic groups).
DEBUG_KEYS: dict[str, tuple[str, str]] = {
    "escapedebug": (r"[0-4]", "print information about escape analysis and the optimizations it allows (1.22+)"),
    "escapemutationscalls": (r"[01]", "print extra escape diagnostics about mutations and calls (1.23+)"),
    "escapealias": (r"[0-2]", "print information about alias analysis (newer toolchains)"),
    "zerocopy": (r"[01]", "allow zero-copy string to []byte conversions"),
    "loopvar": (r"[0-2]", "loop variables: 0 shared, 1 per-iteration, 2 per-iteration and log (changes semantics)"),
    "ssa/prove/debug": (r"[0-3]", "print what the prove pass proved (bounds and nil checks removed)"),
    "ssa/check_bce/debug": (r"[0-2]", "print the bounds checks left"),
    "checkptr": (r"[0-2]", "instrument unsafe.Pointer conversions (2: they force heap allocation)"),
    "inlfuncswithclosures": (r"[01]", "allow functions with closures to be inlined"),
    "inlstaticinit": (r"[01]", "allow static initialization of inlined calls"),
    "closure": (r"[01]", "print information about closure compilation"),
    "defer": (r"[01]", "print information about defer compilation (open-coded or not)"),
    "append": (r"[01]", "print information about append compilation"),
    "slice": (r"[01]", "print information about slice compilation"),
    "typeassert": (r"[01]", "print information about type assertion inlining"),
    "tailcall": (r"[01]", "print information about tail calls"),
    "staticcopy": (r"[01]", "print information about missed static copies"),
    "nil": (r"[01]", "print information about nil checks"),
    "wb": (r"[01]", "print information about write barriers"),
    "disablenil": (r"[01]", "disable nil checks"),
    "noopendefer": (r"[01]", "disable open-coded defers"),
    "freeappend": (r"[0-2]", "free append results when proven safe (newer toolchains)"),
    "mergelocals": (r"[01]", "merge non-interfering stack slots"),
    "variablemakethreshold": (r"[0-9]{1,6}", "bytes up to which a variable-sized make may stay on the stack"),
}
_DEBUG_ITEM = re.compile(r"(?P<key>[a-z0-9_/]{1,40})(?:=(?P<value>[0-9a-z]{1,8}))?")

# Build settings: which GOARCH each applies to, and its values.
ENV: dict[str, tuple[str, str, str]] = {
    "GOAMD64": ("amd64", r"v[1-4]", "the amd64 microarchitecture level: v1 (default) to v4"),
    "GO386": ("386", r"sse2|softfloat", "the 386 floating-point instructions"),
    "GOARM64": (
        "arm64",
        r"v8\.[0-9]|v9\.[0-5](?:,lse)?(?:,crypto)?|v8\.[0-9],lse(?:,crypto)?",
        "the arm64 level (1.23+)",
    ),
    "GORISCV64": ("riscv64", r"rva20u64|rva22u64|rva23u64", "the riscv64 profile (1.23+)"),
    "GOEXPERIMENT": (
        "",
        r"(?:no)?(?:aliastypeparams|rangefunc|newinliner|swissmap|spinbitmutex|synchashtriemap|greenteagc|jsonv2|loopvar)",
        "a toolchain experiment from a fixed list",
    ),
}
# Values that are the toolchains' defaults: asking for them is asking for nothing.
DEFAULT_ENV = {"GOAMD64": "v1", "GO386": "sse2", "GOARM64": "v8.0", "GORISCV64": "rva20u64"}


@dataclass(frozen=True)
class BuildOptions:
    """What a request adds to the engine's compile: normalised, comparable, hashable."""

    flags: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()  # sorted by name

    @property
    def env_dict(self) -> dict[str, str]:
        return dict(self.env)

    @property
    def variant(self) -> str:
        """The name of the standard library's variant these settings need ("" for the default)."""
        return ",".join(f"{k}={v}" for k, v in self.env)

    def describe(self) -> str:
        return " ".join([*self.flags, *(f"{k}={v}" for k, v in self.env)])

    def __bool__(self) -> bool:
        return bool(self.flags or self.env)


def allowed_flags_text() -> str:
    debug = ", ".join(sorted(DEBUG_KEYS))
    return f"{', '.join(FLAGS)} and -d=<key>[=<n>] with key one of {debug}"


def _bad_flag(flag: str) -> InvalidInput:
    shown = flag[:MAX_FLAG_LENGTH] + ("…" if len(flag) > MAX_FLAG_LENGTH else "")
    return InvalidInput(f"Flag {shown!r} is not allowed here. Allowed: {allowed_flags_text()}.")


def check_flags(flags: list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """The flags, each checked; duplicates dropped, order kept (later ones win in the compiler)."""
    if not flags:
        return ()
    if len(flags) > MAX_FLAGS:
        raise InvalidInput(f"At most {MAX_FLAGS} flags, not {len(flags)}.")
    out: list[str] = []
    for flag in flags:
        if not isinstance(flag, str) or not flag.isascii() or len(flag) > MAX_FLAG_LENGTH:
            raise _bad_flag(str(flag))
        if flag.startswith("-d="):
            items = flag[3:].split(",")
            for item in items:
                m = _DEBUG_ITEM.fullmatch(item)
                if not m or m["key"] not in DEBUG_KEYS:
                    raise _bad_flag(flag)
                value = m["value"] or "1"
                if not re.fullmatch(DEBUG_KEYS[m["key"]][0], value):
                    raise InvalidInput(f"-d={m['key']} does not take {value!r}: {DEBUG_KEYS[m['key']][1]}.")
        elif not any(re.fullmatch(pattern, flag) for pattern, _ in FLAGS.values()):
            raise _bad_flag(flag)
        if flag not in out:
            out.append(flag)
    return tuple(out)


def check_env(env: dict[str, str] | None, goarch: str) -> tuple[tuple[str, str], ...]:
    """The build settings, each checked for its GOARCH; defaults dropped; sorted."""
    if not env:
        return ()
    if len(env) > len(ENV):
        raise InvalidInput(f"At most {len(ENV)} build settings.")
    out = {}
    for name, value in env.items():
        if not isinstance(name, str) or name not in ENV:
            raise InvalidInput(f"Build setting {str(name)[:40]!r} is not allowed. Allowed: {', '.join(ENV)}.")
        arch, pattern, meaning = ENV[name]
        if not isinstance(value, str) or not value.isascii() or len(value) > 40 or not re.fullmatch(pattern, value):
            raise InvalidInput(f"{name}={str(value)[:40]!r} is not allowed: {meaning}.")
        if arch and arch != goarch:
            raise InvalidInput(f"{name} applies to GOARCH {arch}, not {goarch}.")
        if DEFAULT_ENV.get(name) != value:
            out[name] = value
    return tuple(sorted(out.items()))


def build_options(flags, env, goarch: str) -> BuildOptions:
    return BuildOptions(check_flags(flags), check_env(env, goarch))


def parse_flag_text(text: str) -> list[str]:
    """Flags typed in a form field: separated by spaces."""
    return [part for part in text.split() if part]


def parse_env_text(text: str) -> dict[str, str]:
    """``GOAMD64=v3 GOEXPERIMENT=…`` typed in a form field."""
    env: dict[str, str] = {}
    for part in text.split():
        name, sep, value = part.partition("=")
        if not sep:
            raise InvalidInput(f"Build setting {part[:40]!r} is not of the form NAME=value (e.g. GOAMD64=v3).")
        env[name] = value
    return env


def uses_m(flags: tuple[str, ...]) -> bool:
    return any(f == "-m" or f.startswith("-m=") for f in flags)
