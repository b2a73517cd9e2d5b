// Command ee-runner runs the Go compiler inside the sandbox and then hands back the
// optimization log (-json=0,<dir>) the compiler wrote to the sandbox's private /tmp,
// which disappears when the run ends.
//
//	ee-runner -marker HEX [-logopt DIR] [-codes copy,...] -- /path/to/compile args...
//
// The compiler inherits the runner's stdin, stdout and stderr (its output reaches the
// caller byte for byte, in its own order). After it exits, every regular *.json file
// under DIR is printed to stdout, framed by lines only the caller can predict (HEX is a
// random nonce chosen per run):
//
//	#ee-logopt HEX begin <path relative to DIR>
//	<the file's lines; with -codes, the header line and the entries with those codes>
//	#ee-logopt HEX end
//
// The exit status is the compiler's; 128+N when a signal N ended it (as bubblewrap
// reports it), and then nothing is printed after the compiler's output.
// Built with the toolchain's own go (CGO_ENABLED=0): a static binary, standard library
// only, since the sandbox has no libc and no shell.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
)

var markerRE = regexp.MustCompile(`^[0-9a-f]{16,128}$`)

func main() {
	os.Exit(run())
}

func run() int {
	marker := flag.String("marker", "", "nonce of the frame lines (hex, 16-128 digits)")
	dir := flag.String("logopt", "/tmp/logopt", "directory the compiler writes its -json=0 log to")
	codes := flag.String("codes", "", "comma-separated diagnostic codes to keep (default: all)")
	flag.Parse()
	args := flag.Args()
	if !markerRE.MatchString(*marker) || len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: ee-runner -marker HEX [-logopt DIR] [-codes a,b] -- command args...")
		return 125
	}
	keep := map[string]bool{}
	for _, c := range strings.Split(*codes, ",") {
		if c != "" {
			keep[c] = true
		}
	}

	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	if cmd.ProcessState == nil {
		fmt.Fprintf(os.Stderr, "ee-runner: cannot run %s: %v\n", args[0], err)
		return 127
	}
	status, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if status.Signaled() {
		return 128 + int(status.Signal())
	}

	out := bufio.NewWriterSize(os.Stdout, 64*1024)
	if err := printLogs(out, *dir, *marker, keep); err != nil {
		fmt.Fprintf(os.Stderr, "ee-runner: reading %s: %v\n", *dir, err)
	}
	if err := out.Flush(); err != nil {
		fmt.Fprintf(os.Stderr, "ee-runner: %v\n", err)
	}
	return status.ExitStatus()
}

// printLogs frames each regular *.json file under dir, in lexical order.
func printLogs(out *bufio.Writer, dir, marker string, keep map[string]bool) error {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && path == dir {
				return filepath.SkipDir // no log: the compiler failed early or logged nothing
			}
			return err
		}
		if d.Type().IsRegular() && strings.HasSuffix(path, ".json") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(files)
	for _, path := range files {
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		if err := printLog(out, path, rel, marker, keep); err != nil {
			return err
		}
	}
	return nil
}

func printLog(out *bufio.Writer, path, rel, marker string, keep map[string]bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	// The relative path is url.PathEscape'd by the compiler: no newlines in it.
	fmt.Fprintf(out, "#ee-logopt %s begin %s\n", marker, strings.ReplaceAll(rel, "\n", "%0A"))
	in := bufio.NewReaderSize(f, 64*1024)
	first := true
	for {
		line, err := in.ReadBytes('\n')
		if len(line) > 0 {
			if first || wanted(line, keep) {
				out.Write(line)
				if line[len(line)-1] != '\n' {
					out.WriteByte('\n')
				}
			}
			first = false
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "#ee-logopt %s end\n", marker)
	return nil
}

// wanted reports whether an entry line has one of the kept codes (all when none are given).
func wanted(line []byte, keep map[string]bool) bool {
	if len(keep) == 0 {
		return true
	}
	if len(bytes.TrimSpace(line)) == 0 {
		return false
	}
	var entry struct {
		Code string `json:"code"`
	}
	if json.Unmarshal(line, &entry) != nil {
		return false
	}
	return keep[entry.Code]
}
