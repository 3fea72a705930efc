package hardening_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/warrenhq/warren/node/nodetest"
)

// startNode starts an in-process node for t and returns it with an admin
// client.
func startNode(t *testing.T, opts ...nodetest.Option) (*nodetest.Node, *client) {
	t.Helper()
	n := nodetest.Start(t, opts...)
	return n, &client{url: n.URL, key: n.APIKey}
}

// hostPrefix is the prefix for host objects of the node in dataDir.
func hostPrefix(t testing.TB, dataDir string) string {
	t.Helper()
	p, err := nodetest.HostPrefix(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var (
	probeOnce sync.Once
	probePath string
	probeErr  error
)

// probe returns the static sysprobe binary (testdata/sysprobe), built once
// into a fixed directory like nodetest's binary.
func probe(t testing.TB) []byte {
	t.Helper()
	probeOnce.Do(func() {
		dir := filepath.Join(os.TempDir(), "warren-hardening-bin")
		if probeErr = os.MkdirAll(dir, 0o755); probeErr != nil {
			return
		}
		probePath = filepath.Join(dir, "sysprobe")
		tmp := fmt.Sprintf("%s.%d.tmp", probePath, os.Getpid())
		_, file, _, _ := runtime.Caller(0)
		cmd := exec.Command("go", "build", "-o", tmp, "./testdata/sysprobe")
		cmd.Dir = filepath.Dir(file)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			_ = os.Remove(tmp)
			probeErr = fmt.Errorf("building sysprobe: %v\n%s", err, out)
			return
		}
		probeErr = os.Rename(tmp, probePath)
	})
	if probeErr != nil {
		t.Fatal(probeErr)
	}
	b, err := os.ReadFile(probePath)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
