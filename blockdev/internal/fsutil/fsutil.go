// Package fsutil holds the file and filesystem primitives the disk pool builds
// on: making a pool directory, reflink clones (FICLONE), sparse copies,
// allocated-size queries, freezing a mounted filesystem (FIFREEZE/FITHAW) and
// finding where a device is mounted.
package fsutil

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// ResolveDir creates directory dir (with its parents) when missing and
// returns it absolute with symlinks resolved: loop devices' backing files are
// reported resolved, so paths compared with them must be too.
func ResolveDir(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}

// Clone makes dst (which must not exist) a reflink copy of src with FICLONE. On
// failure dst is removed.
func Clone(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("clone %s: %w", src, err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("clone %s to %s: %w", src, dst, err)
	}
	if err := unix.IoctlFileClone(int(out.Fd()), int(in.Fd())); err != nil {
		out.Close()
		os.Remove(dst)
		return fmt.Errorf("clone %s to %s: FICLONE: %w", src, dst, err)
	}
	if err := out.Close(); err != nil {
		os.Remove(dst)
		return fmt.Errorf("clone %s to %s: %w", src, dst, err)
	}
	return nil
}

// CopySparse makes dst (which must not exist) a copy of src: a reflink clone
// when both are on one reflink-capable filesystem, else a copy of src's data
// segments only (SEEK_DATA/SEEK_HOLE), so holes stay holes. The copy is synced.
// On failure dst is removed.
func CopySparse(dst, src string) (err error) {
	if err := Clone(dst, src); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	defer func() {
		if cerr := out.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("copy %s to %s: %w", src, dst, cerr)
		}
		if err != nil {
			os.Remove(dst)
		}
	}()
	if err := out.Truncate(st.Size()); err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	if err := copyData(out, in, st.Size()); err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	if err := out.Sync(); err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return nil
}

// copyData copies every data segment of in to the same offset of out.
func copyData(out, in *os.File, size int64) error {
	for off := int64(0); off < size; {
		start, err := unix.Seek(int(in.Fd()), off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			return nil // only a hole remains
		}
		if err != nil {
			return fmt.Errorf("SEEK_DATA: %w", err)
		}
		end, err := unix.Seek(int(in.Fd()), start, unix.SEEK_HOLE)
		if err != nil {
			return fmt.Errorf("SEEK_HOLE: %w", err)
		}
		sec := io.NewSectionReader(in, start, end-start)
		if _, err := io.Copy(io.NewOffsetWriter(out, start), sec); err != nil {
			return err
		}
		off = end
	}
	return nil
}

// Allocated returns the physical bytes of the file at path (st_blocks * 512).
func Allocated(path string) (int64, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, fmt.Errorf("stat %s: %w", path, err)
	}
	return st.Blocks * 512, nil
}
