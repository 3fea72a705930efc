package dm

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/warrenhq/warren/blockdev/loop"
)

// testCowFormulaIsExact writes every chunk of a raw snapshot device: with a CoW
// device of cowChunks chunks the snapshot stays valid; with one chunk less it
// is invalidated — so the formula is both sufficient and tight. 512 chunks is a
// multiple of 256 (the store zeroes one more metadata area), 300 is not.
func testCowFormulaIsExact(t *testing.T) {
	dir := t.TempDir()
	for _, chunks := range []int64{512, 300} {
		for _, short := range []bool{false, true} {
			name := fmt.Sprintf("exact-%d-%v", chunks, short)
			devBytes := chunks * chunkBytes
			cow := cowChunks(devBytes) * chunkBytes
			if short {
				cow -= chunkBytes
			}
			origin := sparseFile(t, filepath.Join(dir, name+".origin"), devBytes)
			cowFile := sparseFile(t, filepath.Join(dir, name+".cow"), cow)
			originLoop := attach(t, origin, true)
			cowLoop := attach(t, cowFile, false)
			originDev, _, err := blockDevice(originLoop)
			if err != nil {
				t.Fatal(err)
			}
			cowDev, _, err := blockDevice(cowLoop)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := createDevice(name, false, snapshotTable(uint64(devBytes/sectorSize), originDev, cowDev)); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := removeDevice(context.Background(), name); err != nil {
					t.Errorf("cleanup: %v", err)
				}
			})
			werr := writeAll(nodePath(name), devBytes)
			targets, err := deviceTargets(name, false)
			if err != nil {
				t.Fatal(err)
			}
			st, err := parseSnapshotStatus(targets[0].params)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d chunks, cow %d chunks: write: %v; status %q", chunks, cow/chunkBytes, werr, targets[0].params)
			switch {
			case !short && (st.Invalid || werr != nil):
				t.Errorf("%s: CoW of cowChunks=%d chunks overflowed: write %v, status %q", name, cow/chunkBytes, werr, targets[0].params)
			case short && !st.Invalid:
				t.Errorf("%s: CoW one chunk below cowChunks did not overflow (status %q): the formula is not tight", name, targets[0].params)
			}
		}
	}
}

// writeAll writes non-zero data to every byte of block device dev (O_DIRECT)
// and flushes it.
func writeAll(dev string, size int64) error {
	f, err := os.OpenFile(dev, os.O_WRONLY|unix.O_DIRECT, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	buf, err := unix.Mmap(-1, 0, 256<<10, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return err
	}
	defer unix.Munmap(buf)
	for i := range buf {
		buf[i] = 0xa5
	}
	for off := int64(0); off < size; off += int64(len(buf)) {
		if _, err := f.WriteAt(buf[:min(int64(len(buf)), size-off)], off); err != nil {
			return err
		}
	}
	return f.Sync()
}

func sparseFile(t *testing.T, path string, size int64) string {
	t.Helper()
	f, err := os.Create(path)
	if err == nil {
		err = f.Truncate(size)
		f.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// attach attaches path to a loop device, detached at cleanup (after the dm
// devices using it, registered later, are removed).
func attach(t *testing.T, path string, ro bool) string {
	t.Helper()
	dev, err := loop.Attach(path, ro)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := loop.Detach(dev); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return dev
}
