package main

// The -request mode: the settings, the command and its files come on stdin, and with
// -ahead the command may already be running, waiting for its files' text.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

type file struct {
	Name string `json:"name"`
	Text string `json:"text"`
}

// request is what -request reads from stdin (and -ahead gives, without the files' text).
type request struct {
	Marker string   `json:"marker"`
	Logopt string   `json:"logopt"`
	Codes  []string `json:"codes"`
	Dir    string   `json:"dir"`
	Files  []file   `json:"files"`
	Env    []string `json:"env"`
	Argv   []string `json:"argv"`
	Ahead  bool     `json:"ahead"` // only the files' text, for the command started ahead
}

// requestRun is a command to wait for, with the settings of its run.
type requestRun struct {
	marker, logopt string
	codes          []string
	cmd            *exec.Cmd
	wait           func() error
}

// maxRequest bounds what -request reads: the worker's largest input is far smaller.
const maxRequest = 64 << 20

// fromRequest starts the command started ahead (aheadSpec, if any), reads the request
// and returns the run it asks for: the command started ahead given its files, or, when
// the request is a whole one, that request's command with its files written (the one
// started ahead, if any, ended first).
func fromRequest(in io.Reader, aheadSpec string) (*requestRun, error) {
	var ahead *aheadRun
	if aheadSpec != "" {
		var spec request
		if err := json.Unmarshal([]byte(aheadSpec), &spec); err != nil {
			return nil, fmt.Errorf("-ahead is not valid JSON: %v", err)
		}
		started, err := startAhead(&spec)
		if err != nil {
			return nil, err
		}
		ahead = started
	}
	req, err := readRequest(in)
	if err == nil && req.Ahead {
		if ahead == nil {
			return nil, errors.New("the request is for a command started ahead, but none was")
		}
		return ahead.feed(req.Files)
	}
	if ahead != nil {
		ahead.abandon()
	}
	if err != nil {
		return nil, err
	}
	if err := check(req); err != nil {
		return nil, err
	}
	if err := os.Mkdir(req.Dir, 0o755); err != nil {
		return nil, err
	}
	for _, f := range req.Files {
		if err := os.WriteFile(filepath.Join(req.Dir, f.Name), []byte(f.Text), 0o644); err != nil {
			return nil, err
		}
	}
	cmd := command(req)
	return &requestRun{req.Marker, req.Logopt, req.Codes, cmd, cmd.Run}, nil
}

func readRequest(in io.Reader) (*request, error) {
	data, err := io.ReadAll(io.LimitReader(in, maxRequest+1))
	if err != nil {
		return nil, fmt.Errorf("reading the request: %v", err)
	}
	if len(data) > maxRequest {
		return nil, errors.New("the request is too large")
	}
	var req request
	if err := json.Unmarshal(data, &req); err != nil {
		return nil, fmt.Errorf("the request is not valid JSON: %v", err)
	}
	return &req, nil
}

// check: a command, a log directory, a new directory directly under /tmp, and plain
// file names in it.
func check(req *request) error {
	if len(req.Argv) == 0 || req.Logopt == "" {
		return errors.New("the request names no command or no log directory")
	}
	if filepath.Dir(req.Dir) != "/tmp" || filepath.Clean(req.Dir) != req.Dir {
		return fmt.Errorf("the request's directory %q is not a new directory in /tmp", req.Dir)
	}
	for _, f := range req.Files {
		if f.Name == "" || f.Name == "." || f.Name == ".." || strings.ContainsAny(f.Name, "/\x00") {
			return fmt.Errorf("the request's file name %q is not a plain name", f.Name)
		}
	}
	return nil
}

// command runs in the request's directory with the sandbox's environment and the
// request's on top; its stdin is the null device.
func command(req *request) *exec.Cmd {
	cmd := exec.Command(req.Argv[0], req.Argv[1:]...)
	cmd.Dir, cmd.Env = req.Dir, append(os.Environ(), req.Env...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd
}

// aheadRun is a command started before its files' text came: each file a named pipe,
// whose open waits in the command until the text comes and the writer here opens it
// too (a pipe's text does not outlive its last open end, so the writer must not write
// and close before the reader is there).
type aheadRun struct {
	spec    *request
	cmd     *exec.Cmd
	paths   []string
	done    chan struct{} // closed when the command has ended
	waitErr error
}

func startAhead(spec *request) (*aheadRun, error) {
	if err := check(spec); err != nil {
		return nil, err
	}
	if err := os.Mkdir(spec.Dir, 0o755); err != nil {
		return nil, err
	}
	a := &aheadRun{spec: spec}
	for _, f := range spec.Files {
		path := filepath.Join(spec.Dir, f.Name)
		if err := syscall.Mkfifo(path, 0o644); err != nil {
			a.abandon()
			return nil, err
		}
		a.paths = append(a.paths, path)
	}
	a.cmd = command(spec)
	if err := a.cmd.Start(); err != nil {
		a.abandon()
		return nil, fmt.Errorf("cannot run %s: %v", spec.Argv[0], err)
	}
	a.done = make(chan struct{})
	go func() {
		a.waitErr = a.cmd.Wait()
		close(a.done)
	}()
	return a, nil
}

// feed gives the command its files' text (the same names, in the same order) and
// returns its run; each file is written when the command opens it.
func (a *aheadRun) feed(files []file) (*requestRun, error) {
	same := len(files) == len(a.spec.Files)
	for i := 0; same && i < len(files); i++ {
		same = files[i].Name == a.spec.Files[i].Name
	}
	if !same {
		a.abandon()
		return nil, errors.New("the request's files are not those of the command started ahead")
	}
	written := make(chan struct{})
	go func() {
		defer close(written)
		for i, f := range files {
			select {
			case <-a.done: // it ended: nobody reads the rest
				return
			default:
			}
			pipe, err := os.OpenFile(a.paths[i], os.O_WRONLY, 0) // waits for the command's open
			if err != nil {
				return
			}
			pipe.WriteString(f.Text) // an error: the command ended without reading it all
			pipe.Close()
		}
	}()
	wait := func() error {
		<-a.done
		// A command that ended before opening a file leaves the writer waiting in that
		// file's open: an open for reading here lets it go on (and its write fail).
		for {
			select {
			case <-written:
				return a.waitErr
			case <-time.After(5 * time.Millisecond):
				for _, path := range a.paths {
					if pipe, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
						pipe.Close()
					}
				}
			}
		}
	}
	return &requestRun{a.spec.Marker, a.spec.Logopt, a.spec.Codes, a.cmd, wait}, nil
}

// abandon ends the command started ahead (when it started) and removes its directory.
func (a *aheadRun) abandon() {
	if a.done != nil {
		a.cmd.Process.Kill()
		<-a.done
	}
	os.RemoveAll(a.spec.Dir)
}
