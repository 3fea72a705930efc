package blockdev

import (
	"errors"
	"fmt"

	"github.com/warrenhq/warren/blockdev/internal/fsutil"
	"golang.org/x/sys/unix"
)

// ThawMount undoes a FIFREEZE left on the filesystem mounted at dir by a
// process that died while a snapshot was being copied (Flatten freezes the
// filesystem for the copy). It does nothing when dir is not a mount point or
// its filesystem is not frozen.
//
// A crash cleanup, and any teardown, must call it before it kills the
// sandbox's processes or unmounts dir: writers to a frozen filesystem sleep
// unkillably, and on current kernels (seen on 6.18) a frozen filesystem that
// is unmounted stays alive, holding its device busy, with no mount left to
// thaw it through.
func ThawMount(dir string) error {
	var st, parent unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("thaw %s: %w", dir, err)
	}
	if err := unix.Lstat(dir+"/..", &parent); err != nil {
		return fmt.Errorf("thaw %s: %w", dir, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || st.Dev == parent.Dev {
		return nil // not a mount point: never thaw the filesystem dir lives on
	}
	if err := fsutil.Thaw(dir); err != nil && !errors.Is(err, unix.EINVAL) {
		return err // EINVAL: not frozen
	}
	return nil
}
