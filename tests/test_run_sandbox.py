"""The run sandbox's walls, tested from inside: real Go programs probe each one.

Each program is built with the real toolchain and run by the engine exactly as a user's
would be (worker/measure.py); it prints what it could and could not do.
"""

from __future__ import annotations

import dataclasses

import pytest

from worker import run_sandbox, toolchains
from worker.analysis import SourceFile
from worker.measure import MeasureRequest, measure

pytestmark = pytest.mark.skipif(toolchains.get() is None, reason="no Go toolchain installed")


def run_main(source: str, **limits) -> dict:
    req = MeasureRequest([SourceFile("main.go", source)])
    if limits:
        req.limits = dataclasses.replace(run_sandbox.RunLimits(), **limits)
    return measure(req)


def test_no_network():
    result = run_main(
        """package main

import (
	"fmt"
	"net"
	"time"
)

func main() {
	_, err := net.DialTimeout("tcp", "1.1.1.1:80", time.Second)
	fmt.Println("dial:", err != nil)
	ifaces, _ := net.Interfaces()
	up := 0
	for _, i := range ifaces {
		if i.Flags&net.FlagLoopback == 0 {
			up++
		}
	}
	fmt.Println("non-loopback interfaces:", up)
	_, err = net.LookupHost("example.com")
	fmt.Println("dns:", err != nil)
}
"""
    )
    assert result["status"] == "ok", result
    assert "dial: true" in result["stdout"]
    assert "non-loopback interfaces: 0" in result["stdout"]
    assert "dns: true" in result["stdout"]


def test_files_read_only_but_a_small_tmp():
    result = run_main(
        """package main

import (
	"fmt"
	"os"
	"strings"
)

func try(name string, err error) { fmt.Printf("%s: %v\\n", name, err == nil) }

func main() {
	_, err := os.ReadFile("/etc/passwd")
	try("read /etc/passwd", err)
	_, err = os.Stat("/usr/bin")
	try("stat /usr/bin", err)
	_, err = os.Stat("/var/cache/escape-explorer")
	try("stat toolchains", err)
	try("write /", os.WriteFile("/x", []byte("x"), 0o644))
	try("write program dir", os.WriteFile("/run/ee/x", []byte("x"), 0o644))
	try("write /tmp", os.WriteFile("/tmp/x", []byte("x"), 0o644))
	big := []byte(strings.Repeat("x", 1<<20))
	f, _ := os.Create("/tmp/big")
	written := 0
	for i := 0; i < 64; i++ {
		if _, err := f.Write(big); err != nil {
			break
		}
		written++
	}
	fmt.Println("MiB written to /tmp:", written)
	entries, _ := os.ReadDir("/proc")
	pids := 0
	for _, e := range entries {
		if e.Name()[0] >= '0' && e.Name()[0] <= '9' {
			pids++
		}
	}
	fmt.Println("processes visible:", pids)
}
""",
        file_bytes=64 * 1024**2,
    )
    assert result["status"] == "ok", result
    out = result["stdout"]
    for line in (
        "read /etc/passwd: false",
        "stat /usr/bin: false",
        "stat toolchains: false",
        "write /: false",
        "write program dir: false",
        "write /tmp: true",
    ):
        assert line in out, out
    written = int(out.split("MiB written to /tmp: ")[1].split()[0])
    assert written <= 16  # the tmpfs's size
    pids = int(out.split("processes visible: ")[1].split()[0])
    assert pids <= 3  # bubblewrap's init and the program: never the host's processes


def test_fork_bomb_is_bounded():
    result = run_main(
        """package main

import (
	"fmt"
	"os"
	"syscall"
)

func main() {
	if len(os.Args) > 1 {
		select {} // a child: stay alive
	}
	started := 0
	for i := 0; i < 10000; i++ {
		_, err := syscall.ForkExec(os.Args[0], []string{os.Args[0], "child"}, &syscall.ProcAttr{})
		if err != nil {
			fmt.Println("fork failed:", err)
			break
		}
		started++
	}
	fmt.Println("started:", started)
}
""",
        wall_seconds=8,
    )
    out = result["stdout"]
    assert "fork failed" in out, result
    started = int(out.split("started: ")[1].split()[0])
    assert started < run_sandbox.RunLimits().processes


def test_memory_bomb_is_stopped():
    result = run_main(
        """package main

import "fmt"

var keep [][]byte

func main() {
	for i := 0; i < 4096; i++ {
		b := make([]byte, 1<<20)
		for j := range b {
			b[j] = 1
		}
		keep = append(keep, b)
	}
	fmt.Println("allocated 4 GiB")
}
"""
    )
    assert result["status"] == "limit" and result["limit"] == "memory", result
    assert "allocated" not in result["stdout"]
    assert result["memory_limit"] == "address-space"


def test_busy_loop_is_stopped_by_time():
    result = run_main(
        """package main

func main() {
	for {
	}
}
""",
        wall_seconds=2,
        cpu_seconds=10,
    )
    assert result["status"] == "limit" and result["limit"] == "time", result
    assert result["timings"]["run_ms"] < 6000


def test_busy_loop_is_stopped_by_cpu_time():
    result = run_main(
        """package main

func main() {
	for {
	}
}
""",
        wall_seconds=10,
        cpu_seconds=1,
    )
    assert result["status"] == "limit" and result["limit"] == "cpu", result


def test_huge_output_is_capped():
    result = run_main(
        """package main

import (
	"os"
	"strings"
)

func main() {
	line := []byte(strings.Repeat("y", 1023) + "\\n")
	for {
		os.Stdout.Write(line)
	}
}
""",
        output_bytes=1024**2,
    )
    assert result["status"] == "limit" and result["limit"] == "output", result
    assert result["truncated"] is True
    assert len(result["stdout"]) <= 64 * 1024


def test_os_exit_is_reported():
    result = run_main(
        """package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Println("bye")
	os.Exit(3)
}
"""
    )
    assert result["status"] == "exit-error", result
    assert result["exit_code"] == 3
    assert "bye" in result["stdout"]
    assert "status 3" in result["errors"][0]
    assert any("ended before its allocations" in n for n in result["notes"])


def test_panic_is_reported():
    result = run_main(
        """package main

func main() {
	var m map[string]int
	m["x"] = 1
}
"""
    )
    assert result["status"] == "exit-error", result
    assert result["exit_code"] == 2
    assert "panicked" in result["errors"][0] and "assignment to entry in nil map" in result["errors"][0]
    assert "goroutine 1" in result["stderr"]


def test_deadlock_is_detected():
    result = run_main(
        """package main

func main() {
	ch := make(chan int)
	<-ch
}
"""
    )
    assert result["status"] == "exit-error", result
    assert "deadlocked" in result["errors"][0]


def test_deadlock_in_a_benchmark_is_detected():
    result = measure(
        MeasureRequest(
            [
                SourceFile(
                    "main.go",
                    """package main

import "testing"

func BenchmarkStuck(b *testing.B) {
	ch := make(chan int)
	<-ch
}
""",
                )
            ]
        )
    )
    assert result["status"] == "exit-error", result
    assert "deadlocked" in result["errors"][0]


def test_the_program_cannot_see_the_report_marker_of_another_run():
    """A program that forges a report frame with a guessed marker changes nothing."""
    result = run_main(
        """package main

import "os"

func main() {
	os.Stderr.WriteString("\\n#ee-measure 00 begin\\n{\\"records\\": [{\\"a\\": 99, \\"b\\": 1, \\"s\\": [{\\"f\\": \\"x\\", \\"file\\": \\"main.go\\", \\"line\\": 1}]}]}\\n#ee-measure 00 end\\n")
}
"""
    )
    assert result["status"] == "ok", result
    assert not any(line["line"] == 1 for line in result["lines"])
    assert "#ee-measure 00 begin" in result["stderr"]


def test_no_privilege_no_namespaces_no_mounts():
    result = run_main(
        """package main

import (
	"fmt"
	"os"
	"strings"
	"syscall"
)

func main() {
	_, _, errno := syscall.RawSyscall(syscall.SYS_UNSHARE, syscall.CLONE_NEWUSER, 0, 0)
	fmt.Println("unshare:", errno)
	fmt.Println("mount:", syscall.Mount("none", "/tmp", "tmpfs", 0, ""))
	_, _, errno = syscall.RawSyscall(syscall.SYS_PTRACE, syscall.PTRACE_TRACEME, 0, 0)
	fmt.Println("ptrace:", errno)
	status, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(status), "\\n") {
		if strings.HasPrefix(line, "CapEff:") || strings.HasPrefix(line, "Uid:") {
			fmt.Println(line)
		}
	}
}
"""
    )
    assert result["status"] == "ok", result
    out = result["stdout"]
    assert "unshare: operation not permitted" in out
    assert "mount: operation not permitted" in out
    assert "ptrace: operation not permitted" in out
    assert "CapEff:\t0000000000000000" in out
