package runc

import (
	"fmt"
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
		)
	}
	return args
}

// Runtime reports which runtime this Runc drives.
func (r *Runc) Runtime() Runtime { return r.rt }

func (rt Runtime) String() string { return string(rt) }

// isGVisorKernel reports whether a `uname -r` output is gVisor's.
func isGVisorKernel(release string) bool { return strings.Contains(release, "gvisor") }
