package dm

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/warrenhq/warren/blockdev"
)

// Available reports whether this host can run the dm backend: nil when
// /dev/mapper/control answers DM_VERSION and the kernel has the "snapshot"
// target (loading its module if the kernel autoloads). The error wraps
// blockdev.ErrUnavailable and says what is missing.
func Available() error {
	if _, err := os.Stat(controlPath); err != nil {
		return fmt.Errorf("dm backend: %s: %w (%w)", controlPath, blockdev.ErrUnavailable, err)
	}
	if _, _, err := call(unix.DM_VERSION, "", 0, 0, nil, 0); err != nil {
		return fmt.Errorf("dm backend: DM_VERSION: %w (%w)", blockdev.ErrUnavailable, err)
	}
	versions, err := targetVersions()
	if err != nil {
		return fmt.Errorf("dm backend: %w (%w)", blockdev.ErrUnavailable, err)
	}
	for _, want := range []string{"snapshot", "linear", "zero"} {
		if _, ok := versions[want]; ok {
			continue
		}
		// DM_GET_TARGET_VERSION looks the target up the way a table load does,
		// which loads dm-snapshot when the kernel can autoload modules.
		if _, _, err := call(unix.DM_GET_TARGET_VERSION, want, 0, 0, nil, minOutput); err != nil {
			return fmt.Errorf("dm backend: target %q: %w (%w)", want, blockdev.ErrUnavailable, err)
		}
	}
	return nil
}

// targetVersions lists the kernel's loaded dm targets (DM_LIST_VERSIONS). Each
// struct dm_target_versions record holds next (u32, from this record),
// version [3]u32 and the NUL-terminated name.
func targetVersions() (map[string][3]uint32, error) {
	_, data, err := call(unix.DM_LIST_VERSIONS, "", 0, 0, nil, minOutput)
	if err != nil {
		return nil, fmt.Errorf("DM_LIST_VERSIONS: %w", err)
	}
	return decodeVersions(data)
}

func decodeVersions(data []byte) (map[string][3]uint32, error) {
	out := map[string][3]uint32{}
	for off := 0; off+16 <= len(data); {
		rec := data[off:]
		next := int(le.Uint32(rec[0:]))
		name := cString(rec[16:])
		if name != "" {
			out[name] = [3]uint32{le.Uint32(rec[4:]), le.Uint32(rec[8:]), le.Uint32(rec[12:])}
		}
		if next == 0 {
			break
		}
		if next < 16 {
			return nil, errors.New("DM_LIST_VERSIONS: record too short")
		}
		off += next
	}
	return out, nil
}
