package agent

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no socket", Config{Root: "/"}, "SocketPath"},
		{"both sockets", Config{ListenFD: 3, SocketPath: "/x.sock", Root: "/"}, "exclusive"},
		{"stdio fd", Config{ListenFD: 2, Root: "/"}, "ListenFD 2"},
		{"relative root", Config{SocketPath: "/x.sock", Root: "rel"}, `Root "rel"`},
		{"negative grace", Config{SocketPath: "/x.sock", Root: "/", ShutdownGrace: -time.Second}, "ShutdownGrace"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate: %v, want an error naming %s", err, tc.want)
			}
		})
	}
	if err := DefaultConfig().Validate(); err == nil {
		t.Fatal("DefaultConfig without a socket validates")
	}
	withPath, withFD := DefaultConfig(), DefaultConfig()
	withPath.SocketPath, withFD.ListenFD = "/x.sock", 3
	for _, c := range []Config{withPath, withFD} {
		if err := c.Validate(); err != nil {
			t.Fatalf("DefaultConfig with a socket %+v: %v", c, err)
		}
	}
}

func TestMainFlags(t *testing.T) {
	var stderr bytes.Buffer
	if code := runMain([]string{"--no-such-flag"}, &stderr); code != 2 || !strings.Contains(stderr.String(), "no-such-flag") {
		t.Fatalf("bad flag: code %d, stderr %q", code, stderr.String())
	}
	stderr.Reset()
	if code := runMain([]string{"extra"}, &stderr); code != 2 || !strings.Contains(stderr.String(), "extra") {
		t.Fatalf("extra argument: code %d, stderr %q", code, stderr.String())
	}
	stderr.Reset()
	if code := runMain([]string{"--socket", filepath.Join(t.TempDir(), "s.sock"), "--root", "/no/such/root"}, &stderr); code != 1 || !strings.Contains(stderr.String(), "/no/such/root") {
		t.Fatalf("missing root: code %d, stderr %q", code, stderr.String())
	}
	// runMain made this process non-dumpable before anything else (so that
	// sandbox root cannot ptrace the agent); undo it for the other tests.
	if d, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0); err != nil || d != 0 {
		t.Fatalf("after runMain: dumpable %d (%v), want 0", d, err)
	}
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 1, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
}

func TestSocketSetup(t *testing.T) {
	dir := t.TempDir()
	// A stale socket (from a previous agent) is replaced.
	stale := filepath.Join(dir, "stale.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, Config{SocketPath: stale, Root: t.TempDir(), Logger: testLogger(t)}) }()
	c, err := Dial(ctx, stale)
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := c.WaitHealthy(wctx); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(stale)
	if err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket: %v, %v (want a 0600 socket)", fi.Mode(), err)
	}
	c.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// Anything else at the path is left alone.
	regular := filepath.Join(dir, "regular")
	writeFile(t, regular, "keep")
	err = Run(context.Background(), Config{SocketPath: regular, Root: t.TempDir(), Logger: testLogger(t)})
	if err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("Run over a regular file: %v", err)
	}
	if b, _ := os.ReadFile(regular); string(b) != "keep" {
		t.Fatalf("regular file changed: %q", b)
	}
}

func TestWaitHealthyTimesOut(t *testing.T) {
	c, err := Dial(context.Background(), filepath.Join(t.TempDir(), "nobody.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err = c.WaitHealthy(ctx)
	if err == nil || !strings.Contains(err.Error(), "nobody.sock") || !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("WaitHealthy without an agent: %v", err)
	}
}

// TestRunStopsProcesses: when Run's context ends, the processes it started
// get SIGTERM, then SIGKILL after the grace, and Run waits for them.
func TestRunStopsProcesses(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{SocketPath: sock, Root: t.TempDir(), Logger: testLogger(t), ShutdownGrace: 200 * time.Millisecond})
	}()
	c, err := Dial(ctx, sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := c.WaitHealthy(wctx); err != nil {
		t.Fatal(err)
	}
	polite, err := c.Exec(wctx, ExecOptions{Argv: []string{"sleep", "100"}, Background: true}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	stubborn, err := c.Exec(wctx, ExecOptions{Shell: "trap '' TERM; touch " + sock + ".ready; while :; do sleep 0.02; done", Background: true}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the TERM trap", func() (bool, string) {
		_, err := os.Stat(sock + ".ready")
		return err == nil, ""
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, pid := range []int{polite.Pid, stubborn.Pid} {
		if s := procState(pid); s != "" {
			t.Fatalf("pid %d still exists after Run returned (state %s)", pid, s)
		}
	}
}
