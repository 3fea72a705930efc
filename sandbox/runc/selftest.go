package runc

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Available reports whether runtime rt's binary is in PATH.
func Available(rt Runtime) bool {
	_, err := exec.LookPath(rt.defaultBinary())
	return err == nil
}

// SelfTestGVisor checks that runsc (bin; default "runsc" in PATH) runs a
// process on this host: `runsc do uname -r` in a throwaway state dir, with
// the systrap platform and no network, must print gVisor's kernel release.
// It takes about a second.
func SelfTestGVisor(ctx context.Context, bin string) error {
	if bin == "" {
		bin = RuntimeGVisor.defaultBinary()
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return fmt.Errorf("gVisor self-test: %w (scripts/deps builds runsc)", err)
	}
	root, err := os.MkdirTemp("", "warren-runsc-selftest-")
	if err != nil {
		return fmt.Errorf("gVisor self-test: %w", err)
	}
	defer os.RemoveAll(root)
	cmd := exec.CommandContext(ctx, path, "--root", root, "--platform=systrap", "--network=none", "do", "uname", "-r")
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("gVisor self-test: runsc do: %w: %s", err, lastLine(stderr.String()))
	}
	if !isGVisorKernel(out.String()) {
		return fmt.Errorf("gVisor self-test: uname -r under runsc printed %q, not gVisor's kernel", strings.TrimSpace(out.String()))
	}
	return nil
}
