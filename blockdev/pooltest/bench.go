package pooltest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/warrenhq/warren/blockdev"
)

// Benchmark sizes: a 2 GiB base image grown to a 20 GiB default disk.
const (
	BenchBaseSize = 2 << 30
	BenchDiskSize = 20 << 30
)

// benchBase imports a BenchBaseSize image into pool as name, grown to
// BenchDiskSize, and removes it at cleanup.
func benchBase(b *testing.B, pool blockdev.Pool, name string) blockdev.ImageInfo {
	b.Helper()
	ctx := context.Background()
	src := filepath.Join(b.TempDir(), name+".img")
	MakeImage(b, src, BenchBaseSize)
	if _, err := pool.ImportImage(ctx, name, src); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { pool.RemoveImage(ctx, name) })
	if err := pool.EnsureImageSizes(ctx, BenchDiskSize); err != nil {
		b.Fatal(err)
	}
	img, err := pool.Image(ctx, name)
	if err != nil {
		b.Fatal(err)
	}
	return img
}

// percentile returns the q-quantile (0..1) of ds in milliseconds.
func percentile(ds []time.Duration, q float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return float64(s[int(q*float64(len(s)-1)+0.5)].Microseconds()) / 1000
}

// BenchCreateRemove measures CreateSnapshot and Remove of a BenchDiskSize disk
// from a BenchBaseSize image, reporting create and create+remove p50/p99.
func BenchCreateRemove(b *testing.B, pool blockdev.Pool) {
	ctx := context.Background()
	benchBase(b, pool, "bench-cr")
	var create, total []time.Duration
	i := 0
	for b.Loop() {
		name := fmt.Sprintf("bench-cr-%d", i)
		i++
		t0 := time.Now()
		if _, err := pool.CreateSnapshot(ctx, name, "bench-cr", BenchDiskSize); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := pool.Remove(ctx, name); err != nil {
			b.Fatal(err)
		}
		create = append(create, t1.Sub(t0))
		total = append(total, time.Since(t0))
	}
	b.ReportMetric(percentile(create, 0.5), "create-p50-ms")
	b.ReportMetric(percentile(create, 0.99), "create-p99-ms")
	b.ReportMetric(percentile(total, 0.5), "create+remove-p50-ms")
	b.ReportMetric(percentile(total, 0.99), "create+remove-p99-ms")
}

// BenchFlatten measures Flatten of a mounted BenchDiskSize snapshot holding
// dataBytes written on top of the base; MB/s is over the filesystem's used bytes.
func BenchFlatten(b *testing.B, pool blockdev.Pool, dataBytes int64) {
	ctx := context.Background()
	benchBase(b, pool, "bench-fl")
	s, err := pool.CreateSnapshot(ctx, "bench-fl-snap", "bench-fl", BenchDiskSize)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { pool.Remove(ctx, s.Name) })
	mnt := filepath.Join(b.TempDir(), "mnt")
	Mount(b, s.Device, mnt)
	writePattern(b, filepath.Join(mnt, "data.bin"), dataBytes)
	var st unix.Statfs_t
	if err := unix.Statfs(mnt, &st); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(st.Blocks-st.Bfree) * st.Bsize)
	i := 0
	for b.Loop() {
		dst := fmt.Sprintf("bench-flat-%d", i)
		i++
		img, err := pool.Flatten(ctx, s.Name, dst)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if i == 1 {
			b.ReportMetric(float64(img.ApparentBytes)/(1<<20), "image-apparent-MiB")
			b.ReportMetric(float64(img.AllocatedBytes)/(1<<20), "image-allocated-MiB")
		}
		if err := pool.RemoveImage(ctx, dst); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	Unmount(b, mnt)
}

// BenchIdleSnapshot measures creating and mounting a BenchDiskSize snapshot and
// the physical bytes it adds to the pool's filesystem while mounted and idle
// (statfs of the image directory, after syncfs), reported as B/sandbox.
func BenchIdleSnapshot(b *testing.B, pool blockdev.Pool) {
	ctx := context.Background()
	img := benchBase(b, pool, "bench-idle")
	poolFS := filepath.Dir(img.Path)
	mnts := b.TempDir()
	var added int64
	i := 0
	for b.Loop() {
		name := fmt.Sprintf("bench-idle-%d", i)
		i++
		b.StopTimer()
		before := usedBytes(b, poolFS)
		b.StartTimer()
		s, err := pool.CreateSnapshot(ctx, name, "bench-idle", BenchDiskSize)
		if err != nil {
			b.Fatal(err)
		}
		mnt := filepath.Join(mnts, name)
		Mount(b, s.Device, mnt)
		b.StopTimer()
		syncfs(b, mnt)
		added += usedBytes(b, poolFS) - before
		Unmount(b, mnt)
		if err := pool.Remove(ctx, name); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(added)/float64(i), "B/sandbox")
}

// usedBytes syncs the filesystem holding dir and returns its used bytes.
func usedBytes(b *testing.B, dir string) int64 {
	syncfs(b, dir)
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		b.Fatal(err)
	}
	return int64(st.Blocks-st.Bfree) * st.Bsize
}

func syncfs(b *testing.B, dir string) {
	f, err := os.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		b.Fatal(err)
	}
}

// writePattern writes size bytes of non-repeating-per-MiB data to path, synced.
func writePattern(b *testing.B, path string, size int64) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	for off := int64(0); off < size; off += int64(len(buf)) {
		buf[0], buf[1] = byte(off>>20), byte(off>>28)
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
}
