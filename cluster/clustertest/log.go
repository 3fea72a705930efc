package clustertest

import (
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
)

// Logger returns a slog.Logger that writes through t.Log until the test ends, so
// goroutines that outlive the test cannot make it panic. WARREN_TEST_LOG=debug
// shows memberlist and raft debug lines; the default level is Info.
func Logger(t testing.TB, name string) *slog.Logger {
	w := &tWriter{t: t}
	t.Cleanup(func() { // registered first, runs after the nodes are shut down
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	level := slog.LevelInfo
	switch os.Getenv("WARREN_TEST_LOG") {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})).With("n", name)
}

type tWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *tWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func splitHost(hostport string) (string, string, error) { return net.SplitHostPort(hostport) }
