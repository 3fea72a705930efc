package dm

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warrenhq/warren/blockdev"
	"github.com/warrenhq/warren/blockdev/internal/ext4"
	"github.com/warrenhq/warren/blockdev/pooltest"
)

// The device-mapper tests need a kernel with dm-mod and dm-snapshot. They run
// inside the qemu VM of scripts/test-dm (`make test-dm`), whose init sets
// WARREN_DM_VM=1; elsewhere only the unit tests run.
const vmEnv = "WARREN_DM_VM"

// TestDeviceMapper runs the conformance suite and the dm-specific tests.
func TestDeviceMapper(t *testing.T) {
	if os.Getenv(vmEnv) != "1" {
		t.Log("device-mapper suite NOT run here: it runs in a qemu VM with `make test-dm` (scripts/test-dm sets " + vmEnv + "=1); this run covered the unit tests only")
		return
	}
	if err := Available(); err != nil {
		t.Fatalf("%s=1 but device-mapper is unusable: %v", vmEnv, err)
	}
	// The VM starts with no dm device; every test must remove its own.
	t.Cleanup(func() {
		if devs, err := listDevices(); err != nil || len(devs) > 0 {
			t.Errorf("dm devices left after the suite: %v (%v)", devs, err)
		}
	})
	t.Run("Conformance", func(t *testing.T) {
		pooltest.Run(t, func(t *testing.T, dir, prefix string) blockdev.Pool { return openPool(t, dir, prefix) })
	})
	t.Run("SharedOrigin", testSharedOrigin)
	t.Run("FillToENOSPC", testFillToENOSPC)
	t.Run("CowFormulaIsExact", testCowFormulaIsExact)
	t.Run("CreateFailureLeavesNothing", testCreateFailureLeavesNothing)
	t.Run("RemoveBusy", testRemoveBusy)
	t.Run("FlattenMounted", testFlattenMounted)
	t.Run("CleanupStale", testCleanupStale)
}

// openPool opens a dm pool logging through t and, at cleanup, fails t if any
// dm device with prefix, loop device or mount under dir remains.
func openPool(t *testing.T, dir, prefix string) *Pool {
	t.Helper()
	p, err := Open(context.Background(), Config{Dir: dir, Prefix: prefix, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("open dm pool: %v", err)
	}
	t.Cleanup(func() {
		if devs := devicesWithPrefix(t, prefix); len(devs) > 0 {
			t.Errorf("dm devices left with prefix %s: %v", prefix, devs)
		}
		pooltest.AssertNoLeaks(t, p.Dir())
	})
	return p
}

// devicesWithPrefix lists the dm devices named <prefix>-*.
func devicesWithPrefix(t testing.TB, prefix string) []string {
	t.Helper()
	devs, err := listDevices()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range devs {
		if strings.HasPrefix(d.Name, prefix+"-") {
			out = append(out, d.Name)
		}
	}
	return out
}

// importImage makes an image of size bytes holding pooltest.KnownFiles and
// imports it into p as name.
func importImage(t *testing.T, p *Pool, name string, size int64) {
	t.Helper()
	src := filepath.Join(t.TempDir(), name+".img")
	pooltest.MakeImage(t, src, size)
	if _, err := p.ImportImage(context.Background(), name, src); err != nil {
		t.Fatalf("import %s: %v", name, err)
	}
}

// status returns the snapshot target status of snapshot name.
func status(t testing.TB, p *Pool, name string) snapshotStatus {
	t.Helper()
	targets, err := deviceTargets(p.devName(name), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(targets) != 1 || targets[0].kind != "snapshot" {
		t.Fatalf("snapshot %s: table %v", name, targets)
	}
	st, err := parseSnapshotStatus(targets[0].params)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// fsSize returns the filesystem size recorded in dev's superblock.
func fsSize(t testing.TB, dev string) int64 {
	t.Helper()
	info, err := ext4.ReadSuperblock(dev)
	if err != nil {
		t.Fatal(err)
	}
	return info.Bytes()
}

func mustRemove(t testing.TB, p *Pool, name string) {
	t.Helper()
	if err := p.Remove(context.Background(), name); err != nil {
		t.Fatalf("remove %s: %v", name, err)
	}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}
