// Package storetest gives tests a real, migrated PostgreSQL database quickly. One
// private server runs per test binary (started by Main from TestMain); each test gets
// its own database cloned from a migrated template database, so tests are isolated
// and the suite stays fast. It never skips: a test binary that cannot start
// PostgreSQL fails.
package storetest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warrenhq/warren/store"
	"github.com/warrenhq/warren/store/embedpg"
)

const templateDB = "warren_template"

var (
	server *embedpg.Server
	seq    atomic.Int64
)

// Main starts the binary's private PostgreSQL, migrates the template database,
// runs the tests and stops the server. Call it from TestMain:
//
//	func TestMain(m *testing.M) { storetest.Main(m) }
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "warren-pgtest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "storetest:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	server, err = embedpg.Start(ctx, embedpg.Config{Dir: dir, Logger: logger})
	if err != nil {
		fmt.Fprintln(os.Stderr, "storetest: starting postgres:", err)
		return 1
	}
	defer server.Stop() //nolint:errcheck // best effort at exit
	if err := server.CreateDatabase(ctx, templateDB, ""); err != nil {
		fmt.Fprintln(os.Stderr, "storetest:", err)
		return 1
	}
	st, err := store.Open(ctx, server.URL(templateDB), logger)
	if err != nil {
		fmt.Fprintln(os.Stderr, "storetest:", err)
		return 1
	}
	err = st.Migrate(ctx)
	st.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "storetest: migrating:", err)
		return 1
	}
	return m.Run()
}

// Server returns the binary's PostgreSQL server (after Main started it).
func Server() *embedpg.Server { return server }

// NewDatabase creates a fresh migrated database for t and returns its URL. It is
// dropped when the test ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	if server == nil {
		t.Fatal("storetest: no server; call storetest.Main from TestMain")
	}
	name := fmt.Sprintf("t%d_%s", seq.Add(1), sanitize(t.Name()))
	ctx := context.Background()
	if err := server.CreateDatabase(ctx, name, templateDB); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := server.DropDatabase(context.Background(), name); err != nil {
			t.Errorf("storetest: %v", err)
		}
	})
	return server.URL(name)
}

// New returns a Store over a fresh migrated database, closed when the test ends.
func New(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), NewDatabase(t), slog.New(slog.NewTextHandler(testWriter{t}, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
		if b.Len() >= 40 {
			break
		}
	}
	return b.String()
}

// testWriter routes log output through t.Log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
