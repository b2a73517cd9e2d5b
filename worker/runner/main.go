// Command ee-runner runs the Go compiler inside the sandbox and then hands back the
// optimization log (-json=0,<dir>) and, with -collect, other files (GOSSADIR's ssa.html)
// the compiler wrote to the sandbox's private /tmp, which disappears when the run ends.
//
//	ee-runner -marker HEX [-logopt DIR] [-codes copy,...] [-collect DIR:GLOB [-collect-max BYTES]] -- /path/to/compile args...
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
// With -collect, DIR is created (empty, 0700) before the compiler runs, and after the
// log files every regular file directly in DIR whose name matches GLOB is printed
// verbatim (a newline added when it lacks one), in lexical order:
//
//	#ee-file HEX begin <size in bytes> <file name>
//	<the file's bytes>
//	#ee-file HEX end
//
// or, for a file larger than -collect-max, only a line saying so:
//
//	#ee-file HEX toolarge <size in bytes> <file name>
//
// (GOSSADIR: the compiler's ssa.html of one function, which would vanish with /tmp.)
//
// The exit status is the compiler's; 128+N when a signal N ended it (as bubblewrap
// reports it), and then nothing is printed after the compiler's output.
//
//	ee-runner -request
//
// reads the same settings, the command and the source files from stdin instead, as one
// JSON object, and waits for it: a sandbox started ahead of the work it will do (the
// worker keeps one ready, worker/prestart.py), whose namespaces and mounts are built
// while nobody waits. The files are written to a new directory in the sandbox's private
// /tmp and the command runs there, with the given environment and no stdin:
//
//	{"marker": HEX, "logopt": DIR, "codes": [...], "dir": "/tmp/NAME",
//	 "files": [{"name": "main.go", "text": "..."}], "env": ["K=V", ...], "argv": [...]}
//
// With -ahead (the same object without the files' text), that command is started at
// once, its files named pipes in its directory: the compiler starts and reads its
// settings and the standard library's import configuration while nobody waits, then
// waits in its first read of a source file. A request {"ahead": true, "files": [...]}
// with the same file names gives it their text; any other request ends it and is run
// as above (see request.go).
//
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
	collect := flag.String("collect", "", "DIR:GLOB: files in DIR matching GLOB to print after the logs")
	collectMax := flag.Int64("collect-max", 20<<20, "largest collected file printed, in bytes")
	fromStdin := flag.Bool("request", false, "read the settings, command and files from stdin (JSON)")
	aheadSpec := flag.String("ahead", "", "with -request: a request without the files' text whose command starts now (JSON)")
	flag.Parse()
	var cmd *exec.Cmd
	var wait func() error
	var keepCodes []string
	if *fromStdin {
		run, err := fromRequest(os.Stdin, *aheadSpec)
		if err != nil {
			fmt.Fprintf(os.Stderr, "ee-runner: %v\n", err)
			return 125
		}
		*marker, *dir, keepCodes = run.marker, run.logopt, run.codes
		cmd, wait = run.cmd, run.wait
	} else {
		args := flag.Args()
		if len(args) == 0 {
			return usage()
		}
		keepCodes = strings.Split(*codes, ",")
		cmd = exec.Command(args[0], args[1:]...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		wait = cmd.Run
	}
	collectDir, collectGlob, collectOK := parseCollect(*collect)
	if !markerRE.MatchString(*marker) || !collectOK {
		return usage()
	}
	if collectDir != "" {
		if err := os.MkdirAll(collectDir, 0o700); err != nil {
			fmt.Fprintf(os.Stderr, "ee-runner: %v\n", err)
			return 125
		}
	}
	keep := map[string]bool{}
	for _, c := range keepCodes {
		if c != "" {
			keep[c] = true
		}
	}

	err := wait()
	if cmd.ProcessState == nil {
		fmt.Fprintf(os.Stderr, "ee-runner: cannot run %s: %v\n", cmd.Path, err)
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
	if collectDir != "" {
		if err := printCollected(out, collectDir, collectGlob, *marker, *collectMax); err != nil {
			fmt.Fprintf(os.Stderr, "ee-runner: reading %s: %v\n", collectDir, err)
		}
	}
	if err := out.Flush(); err != nil {
		fmt.Fprintf(os.Stderr, "ee-runner: %v\n", err)
	}
	return status.ExitStatus()
}

func usage() int {
	fmt.Fprintln(os.Stderr, "usage: ee-runner -marker HEX [-logopt DIR] [-codes a,b] [-collect DIR:GLOB [-collect-max N]] -- command args...")
	fmt.Fprintln(os.Stderr, "       ee-runner -request [-ahead JSON] < request.json")
	return 125
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

// parseCollect splits -collect's DIR:GLOB (an absolute directory, a valid pattern);
// ok is false for a malformed value, and both are "" when the flag is not given.
func parseCollect(value string) (dir, glob string, ok bool) {
	if value == "" {
		return "", "", true
	}
	i := strings.LastIndex(value, ":")
	if i <= 0 || i == len(value)-1 {
		return "", "", false
	}
	dir, glob = filepath.Clean(value[:i]), value[i+1:]
	if !filepath.IsAbs(dir) || strings.Contains(glob, "/") {
		return "", "", false
	}
	if _, err := filepath.Match(glob, ""); err != nil {
		return "", "", false
	}
	return dir, glob, true
}

// printCollected frames each regular file directly in dir whose name matches glob.
func printCollected(out *bufio.Writer, dir, glob, marker string, max int64) error {
	entries, err := os.ReadDir(dir) // sorted by name
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	for _, entry := range entries {
		name := entry.Name()
		if matched, _ := filepath.Match(glob, name); !matched || !entry.Type().IsRegular() {
			continue // symlinks and directories are never followed
		}
		info, err := entry.Info()
		if err != nil {
			return err
		}
		label := strings.ReplaceAll(name, "\n", "%0A")
		if info.Size() > max {
			fmt.Fprintf(out, "#ee-file %s toolarge %d %s\n", marker, info.Size(), label)
			continue
		}
		if err := printFile(out, filepath.Join(dir, name), label, marker, max); err != nil {
			return err
		}
	}
	return nil
}

func printFile(out *bufio.Writer, path, label, marker string, max int64) error {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return err
	}
	if int64(len(data)) > max {
		fmt.Fprintf(out, "#ee-file %s toolarge %d %s\n", marker, len(data), label)
		return nil
	}
	fmt.Fprintf(out, "#ee-file %s begin %d %s\n", marker, len(data), label)
	out.Write(data)
	if len(data) > 0 && data[len(data)-1] != '\n' {
		out.WriteByte('\n')
	}
	fmt.Fprintf(out, "#ee-file %s end\n", marker)
	return nil
}
