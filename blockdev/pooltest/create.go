package pooltest

import (
	"errors"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/warrenhq/warren/blockdev"
)

// testCreateRemoveMany creates and removes snapshots one after another.
func testCreateRemoveMany(h *harness) {
	h.importImage("base", imageSize)
	for round := 0; round < 2; round++ {
		const n = 12
		for i := 0; i < n; i++ {
			s := h.create(name("many", i), "base", imageSize)
			var st unix.Stat_t
			if err := unix.Stat(s.Device, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFBLK {
				h.t.Fatalf("snapshot %s: device %s is not a block device (%v)", s.Name, s.Device, err)
			}
		}
		snaps, err := h.pool.Snapshots(h.ctx)
		if err != nil || len(snaps) != n {
			h.t.Fatalf("snapshots: %d (%v), want %d", len(snaps), err, n)
		}
		_, err = h.pool.CreateSnapshot(h.ctx, name("many", 0), "base", imageSize)
		h.wantErr("create existing", err, blockdev.ErrExists, name("many", 0))
		h.wantErr("remove image with snapshots", h.pool.RemoveImage(h.ctx, "base"), blockdev.ErrInvalid, "base")
		for i := 0; i < n; i++ {
			h.remove(name("many", i))
		}
		if snaps, _ := h.pool.Snapshots(h.ctx); len(snaps) != 0 {
			h.t.Fatalf("snapshots after removes: %v", snaps)
		}
		h.assertLoopsReleased()
	}
	if err := h.pool.RemoveImage(h.ctx, "base"); err != nil {
		h.t.Fatalf("remove image: %v", err)
	}
}

// testConcurrentCreates creates snapshots of one origin concurrently (some
// resized, some not), then removes them concurrently.
func testConcurrentCreates(h *harness) {
	h.importImage("base", imageSize)
	const n = 10
	var wg sync.WaitGroup
	devs := make([]string, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			size := imageSize
			if i%3 == 1 {
				size = 2 * imageSize
			}
			s, err := h.pool.CreateSnapshot(h.ctx, name("conc", i), "base", size)
			devs[i], errs[i] = s.Device, err
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, err := range errs {
		if err != nil {
			h.t.Fatalf("concurrent create %d: %v", i, err)
		}
		if seen[devs[i]] {
			h.t.Fatalf("device %s handed out twice", devs[i])
		}
		seen[devs[i]] = true
	}
	h.wantErr("remove image with snapshots", h.pool.RemoveImage(h.ctx, "base"), blockdev.ErrInvalid)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = h.pool.Remove(h.ctx, name("conc", i))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			h.t.Fatalf("concurrent remove %d: %v", i, err)
		}
	}
	h.assertLoopsReleased()
	if err := h.pool.RemoveImage(h.ctx, "base"); err != nil {
		h.t.Fatalf("remove image after removes: %v", err)
	}
}

// testRemoveFlattenRace runs Remove and Flatten of one snapshot concurrently:
// either both succeed (flatten first) or Flatten reports ErrNotFound.
func testRemoveFlattenRace(h *harness) {
	h.importImage("base", imageSize)
	for i := 0; i < 3; i++ {
		s := h.create(name("race", i), "base", imageSize)
		var wg sync.WaitGroup
		var flatErr, rmErr error
		wg.Add(2)
		go func() { defer wg.Done(); _, flatErr = h.pool.Flatten(h.ctx, s.Name, name("flat", i)) }()
		go func() { defer wg.Done(); rmErr = h.pool.Remove(h.ctx, s.Name) }()
		wg.Wait()
		if rmErr != nil {
			h.t.Fatalf("remove during flatten: %v", rmErr)
		}
		switch {
		case flatErr == nil:
			if err := h.pool.RemoveImage(h.ctx, name("flat", i)); err != nil {
				h.t.Fatalf("remove flattened image: %v", err)
			}
		case !errors.Is(flatErr, blockdev.ErrNotFound):
			h.t.Fatalf("flatten during remove: %v", flatErr)
		}
		if _, err := h.pool.Image(h.ctx, name("flat", i)); !errors.Is(err, blockdev.ErrNotFound) {
			h.t.Fatalf("image %s after race: %v", name("flat", i), err)
		}
	}
	h.assertLoopsReleased()
}
