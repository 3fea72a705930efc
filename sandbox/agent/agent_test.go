package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestMain(m *testing.M) {
	// The PID 1 test re-executes this binary in a new pid namespace.
	if sock := os.Getenv(pid1SocketEnv); sock != "" {
		os.Exit(Main([]string{"--socket", sock, "--root", os.Getenv(pid1RootEnv), "--shutdown-grace", "3s", "--debug"}))
	}
	if fd := os.Getenv(pid1FDEnv); fd != "" {
		os.Exit(Main([]string{"--listen-fd", fd, "--root", os.Getenv(pid1RootEnv), "--shutdown-grace", "3s", "--debug"}))
	}
	os.Exit(m.Run())
}

// testAgent is an agent served in-process on a temp socket, Root a temp dir.
type testAgent struct {
	*Client
	root   string
	socket string
}

func startAgent(tb testing.TB) *testAgent {
	tb.Helper()
	root := tb.TempDir()
	sock := filepath.Join(tb.TempDir(), "agent.sock")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	cfg := Config{SocketPath: sock, Root: root, Logger: testLogger(tb), ShutdownGrace: 2 * time.Second}
	go func() { done <- Run(ctx, cfg) }()
	c, err := Dial(ctx, sock)
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		c.Close()
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("agent Run: %v", err)
		}
		if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
			tb.Errorf("socket %s left behind after Run (lstat: %v)", sock, err)
		}
	})
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := c.WaitHealthy(wctx); err != nil {
		tb.Fatal(err)
	}
	return &testAgent{Client: c, root: root, socket: sock}
}

func testLogger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tb.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func testCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

func requireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Fatalf("this test needs root (euid is %d); run the package tests as root", os.Geteuid())
	}
}

// wantCode fails unless err carries the gRPC code and its message mentions
// each of subjects.
func wantCode(tb testing.TB, err error, code codes.Code, subjects ...string) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("want %v error, got nil", code)
	}
	if got := status.Code(err); got != code {
		tb.Fatalf("want code %v, got %v: %v", code, got, err)
	}
	for _, s := range subjects {
		if !strings.Contains(err.Error(), s) {
			tb.Fatalf("error %q does not mention %q", err, s)
		}
	}
}

// waitFor polls cond every 10ms until it holds or timeout passes.
func waitFor(tb testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s (last state: %s)", timeout, what, state)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// procState returns the state letter of pid from /proc ("" if gone).
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return "?"
	}
	return string(b[i+2])
}

func writeFile(tb testing.TB, p, content string) {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
}
