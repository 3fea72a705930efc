package image

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

const capXattr = "security.capability"

// ShiftOwnership adds m's host bases to the owner of every file under root
// (root included): a file owned by uid:gid becomes HostUID+uid:HostGID+gid.
// Symlinks are changed themselves (lchown), hard-linked inodes once, and the
// setuid/setgid bits and file capabilities that chown clears are restored (file
// capabilities as version 3, rooted at HostUID, so the kernel honours them inside
// the sandbox's user namespace). An ID at or past m.Size is an error: the tree is
// either already shifted or holds IDs the sandbox cannot map.
func ShiftOwnership(root string, m IDMap) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if root == "" {
		return fmt.Errorf("shift ownership: root is empty: %w", ErrInvalid)
	}
	type inode struct{ dev, ino uint64 }
	seen := map[inode]bool{}
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("shift ownership: walk %s: %w", path, err)
		}
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			return fmt.Errorf("shift ownership: lstat %s: %w", path, err)
		}
		if st.Nlink > 1 && st.Mode&unix.S_IFMT != unix.S_IFDIR {
			k := inode{st.Dev, st.Ino}
			if seen[k] {
				return nil
			}
			seen[k] = true
		}
		if st.Uid >= m.Size || st.Gid >= m.Size {
			return fmt.Errorf("shift ownership: %s is owned by %d:%d, outside the %d IDs of the map (already shifted?): %w",
				path, st.Uid, st.Gid, m.Size, ErrInvalid)
		}
		isLink := st.Mode&unix.S_IFMT == unix.S_IFLNK
		var caps []byte
		if st.Mode&unix.S_IFMT == unix.S_IFREG {
			caps, err = getCaps(path)
			if err != nil {
				return err
			}
		}
		if err := os.Lchown(path, int(m.HostUID+st.Uid), int(m.HostGID+st.Gid)); err != nil {
			return fmt.Errorf("shift ownership: %w", err)
		}
		if !isLink && st.Mode&(unix.S_ISUID|unix.S_ISGID) != 0 {
			if err := unix.Chmod(path, st.Mode&07777); err != nil {
				return fmt.Errorf("shift ownership: restore mode of %s: %w", path, err)
			}
		}
		if caps != nil {
			v3, err := capsV3(caps, m.HostUID)
			if err != nil {
				return fmt.Errorf("shift ownership: %s: %w", path, err)
			}
			if err := unix.Setxattr(path, capXattr, v3, 0); err != nil {
				return fmt.Errorf("shift ownership: restore file capabilities of %s: %w", path, err)
			}
		}
		return nil
	})
}

func getCaps(path string) ([]byte, error) {
	buf := make([]byte, 64)
	n, err := unix.Getxattr(path, capXattr, buf)
	if errors.Is(err, unix.ENODATA) || errors.Is(err, unix.EOPNOTSUPP) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("shift ownership: read file capabilities of %s: %w", path, err)
	}
	return buf[:n], nil
}

// capsV3 rewrites a vfs_cap_data xattr (v2 or v3) as v3 with the root ID
// shifted by hostUID.
func capsV3(b []byte, hostUID uint32) ([]byte, error) {
	const (
		rev2, rev3 = 0x02000000, 0x03000000
		revMask    = 0xFF000000
	)
	if len(b) < 20 {
		return nil, fmt.Errorf("file capability xattr of %d bytes: %w", len(b), ErrInvalid)
	}
	magic := binary.LittleEndian.Uint32(b)
	var rootID uint32
	switch magic & revMask {
	case rev2:
	case rev3:
		if len(b) < 24 {
			return nil, fmt.Errorf("v3 file capability xattr of %d bytes: %w", len(b), ErrInvalid)
		}
		rootID = binary.LittleEndian.Uint32(b[20:])
	default:
		return nil, fmt.Errorf("file capability revision %#x: %w", magic&revMask, ErrInvalid)
	}
	out := make([]byte, 24)
	binary.LittleEndian.PutUint32(out, rev3|magic&^revMask)
	copy(out[4:20], b[4:20])
	binary.LittleEndian.PutUint32(out[20:], hostUID+rootID)
	return out, nil
}
