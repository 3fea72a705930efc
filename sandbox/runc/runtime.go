package runc

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Runtime names the OCI runtime binary a Runc drives.
type Runtime string

const (
	// RuntimeRunc is runc: the container's processes run on the host kernel,
	// confined by namespaces, the DefaultSeccomp profile and capabilities.
	RuntimeRunc Runtime = "runc"
	// RuntimeGVisor is gVisor's runsc: the container's processes run on
	// gVisor's user-space kernel (the systrap platform), which applies its own
	// host seccomp filter; the sandbox's network stack is gVisor's netstack
	// over the sandbox's netns (--network=sandbox).
	RuntimeGVisor Runtime = "gvisor"
)

// Runtimes lists the runtimes this package drives, in their wire form.
func Runtimes() []Runtime { return []Runtime{RuntimeRunc, RuntimeGVisor} }

// ParseRuntime checks a runtime's wire form ("runc" or "gvisor").
func ParseRuntime(s string) (Runtime, error) {
	for _, r := range Runtimes() {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("runtime %q is not one of runc, gvisor: %w", s, ErrInvalid)
}

// defaultBinary is the executable of runtime rt looked up in PATH.
func (rt Runtime) defaultBinary() string {
	if rt == RuntimeGVisor {
		return "runsc"
	}
	return "runc"
}

// globalArgs are the flags every invocation of the runtime gets before its
// subcommand. runsc reads its configuration from the flags of each
// invocation, so all of them are given every time.
func (r *Runc) globalArgs() []string {
	args := []string{"--root", r.root}
	if r.rt == RuntimeGVisor {
		args = append(args,
			"--platform=systrap",
			"--network=sandbox",
			// The agent binds its socket in the sandbox's ctl dir; the
			// sentry creates it as a host socket the node dials.
			"--host-uds=create",
			// Writes go to the sandbox's disk, as under runc (snapshots copy
			// it), not to runsc's default memory-backed overlay.
			"--overlay2=none",
		)
	}
	return args
}

// Runtime reports which runtime this Runc drives.
func (r *Runc) Runtime() Runtime { return r.rt }

func (rt Runtime) String() string { return string(rt) }

// isGVisorKernel reports whether a `uname -r` output is gVisor's.
func isGVisorKernel(release string) bool { return strings.Contains(release, "gvisor") }

// statePath is where the runtime keeps container id's state: runc a
// directory <root>/<id>, runsc a file <root>/<id>_sandbox:<id>.state (each
// sandbox here holds one container, named as the sandbox).
func (r *Runc) statePath(id string) string {
	if r.rt == RuntimeGVisor {
		return filepath.Join(r.root, id+"_sandbox:"+id+".state")
	}
	return filepath.Join(r.root, id)
}

// GoferPid reads the host pid of gVisor container id's gofer from runsc's
// state file. The gofer is the process that serves the container's
// filesystem on the host: with --host-uds=create it creates, binds and
// listens on the host sockets the sandbox binds in a host directory, so it is
// the peer (SO_PEERCRED) of every host connection to them.
func (r *Runc) GoferPid(id string) (int, error) {
	if r.rt != RuntimeGVisor {
		return 0, fmt.Errorf("gofer pid %s: %s containers have no gofer: %w", id, r.rt, ErrInvalid)
	}
	if err := ValidateID(id); err != nil {
		return 0, err
	}
	data, err := os.ReadFile(r.statePath(id))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("gofer pid %s: container %w", id, ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("gofer pid %s: %w", id, err)
	}
	var st struct {
		GoferPid int `json:"goferPid"`
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return 0, fmt.Errorf("gofer pid %s: decoding runsc's state: %w", id, err)
	}
	if st.GoferPid <= 1 {
		return 0, fmt.Errorf("gofer pid %s: runsc's state names no gofer (%d): %w", id, st.GoferPid, ErrRuntime)
	}
	return st.GoferPid, nil
}
