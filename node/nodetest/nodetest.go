// Package nodetest starts real Warren nodes inside tests: a node over a fresh
// database from storetest, its own data dir, a busybox base template, and a
// bridge and subnet of its own, so tests can run side by side. The sandbox init
// is the real static warren binary, built once per test binary. Everything is
// torn down (sandboxes, network, pool mount, data dir) when the test ends.
package nodetest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warrenhq/warren/node"
	"github.com/warrenhq/warren/store/storetest"
)

// Node is a running test node.
type Node struct {
	*node.Node
	URL     string // http://127.0.0.1:port
	APIKey  string // the bootstrap admin's key
	DataDir string
	Config  node.Config
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	subnetSeq = struct {
		sync.Mutex
		n int
	}{}
)

// Binary returns the static warren binary built from this module (once).
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		// Test binaries of several packages run at once and share one
		// directory. A built binary is named by its content and never
		// replaced: a node of another test binary may be bind-mounting it into
		// a sandbox at that moment, and a file renamed over cannot be mounted
		// any more. Its parents stay traversable for sandbox root.
		dir := filepath.Join(os.TempDir(), "warren-nodetest-bin")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			buildErr = err
			return
		}
		_ = os.Chmod(dir, 0o755)
		tmp := filepath.Join(dir, fmt.Sprintf(".build-%d", os.Getpid()))
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		cmd := exec.Command("go", "build", "-o", tmp, ".")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			_ = os.Remove(tmp)
			buildErr = fmt.Errorf("building warren: %v\n%s", err, out)
			return
		}
		sum, err := fileSum(tmp)
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "warren-"+sum[:16])
		if _, err := os.Stat(binPath); err == nil {
			buildErr = os.Remove(tmp) // the same binary is already there
			return
		}
		// Link, not rename: it fails instead of replacing when a concurrent
		// build of the same content won the race.
		if err := os.Link(tmp, binPath); err != nil && !os.IsExist(err) {
			buildErr = err
		}
		_ = os.Remove(tmp)
		removeOldBinaries(dir, binPath)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// Option adjusts a test node's config.
type Option func(*node.Config)

// WithDatabase makes the node use url instead of a fresh database (nodes of
// one cluster share their database).
func WithDatabase(url string) Option { return func(c *node.Config) { c.DatabaseURL = url } }

// WithCluster makes the node a member of a multi-node cluster: key is the
// shared cluster key, join the gossip addresses of members already up.
func WithCluster(key string, server bool, bootstrapExpect int, join ...string) Option {
	return func(c *node.Config) {
		c.Cluster.Key, c.Cluster.Server, c.Cluster.Join = key, server, join
		c.Cluster.BootstrapExpect = bootstrapExpect
		if !server {
			c.Cluster.BootstrapExpect = 0
		}
	}
}

// Start starts a node for t. The test binary's TestMain must call
// storetest.Main.
func Start(t testing.TB, opts ...Option) *Node {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("nodetest: needs root (loop devices, runc, network namespaces)")
	}
	dir, err := os.MkdirTemp("", "warren-node-")
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(dir, 0o755)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	cfg := node.DefaultConfig()
	cfg.Dev = true
	cfg.DataDir = dir
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.BaseImage = "busybox"
	cfg.AgentBinary = Binary(t)
	cfg.TeardownNetwork = true
	cfg.Bridge, cfg.Subnet = uniqueNetwork()
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.DatabaseURL == "" {
		cfg.DatabaseURL = storetest.NewDatabase(t)
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n, err := node.Open(ctx, cfg, log)
	if err != nil {
		t.Fatalf("nodetest: starting a node: %v", err)
	}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := n.Close(cctx); err != nil {
			t.Errorf("nodetest: closing the node: %v", err)
		}
	})
	out := &Node{Node: n, URL: "http://" + n.HTTPAddr(), DataDir: dir, Config: cfg}
	if n.Bootstrap != nil {
		out.APIKey = n.Bootstrap.APIKey
	}
	return out
}

// uniqueNetwork picks a bridge name and a /24 no other test node in this
// process uses; the process ID spreads concurrent test binaries apart.
func uniqueNetwork() (bridge, subnet string) {
	subnetSeq.Lock()
	subnetSeq.n++
	n := subnetSeq.n
	subnetSeq.Unlock()
	var b [3]byte
	_, _ = rand.Read(b[:])
	octet := 100 + (os.Getpid()*7+n)%150
	third := int(b[0])
	return "wt" + hex.EncodeToString(b[:]), fmt.Sprintf("10.%d.%d.0/24", octet, third)
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func fileSum(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// removeOldBinaries deletes binaries of earlier code versions, a day old or
// more (no test runs that long), so the directory does not grow without end.
func removeOldBinaries(dir, keep string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if info, err := e.Info(); err == nil && p != keep && time.Since(info.ModTime()) > 24*time.Hour {
			_ = os.Remove(p)
		}
	}
}
