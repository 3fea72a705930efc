package dm

import (
	"bytes"
	"context"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

const (
	copyChunk = 1 << 20 // bytes read per O_DIRECT read
	copyBlock = 4096    // zero blocks of this size become holes
)

// copyDevice copies the first size bytes (a multiple of 4 KiB) of block device
// dev into dst, which must not exist, as a sparse file: all-zero 4 KiB blocks
// are left as holes. The device is read with O_DIRECT so the copy sees what
// the filesystem wrote through its own mapping, never stale cached device
// pages. The copy is synced; on failure dst is removed.
//
// fsutil.CopySparse does not fit here: it finds data with SEEK_DATA, which on
// a block device reports everything as data, and sizes dst by st_size, which
// is 0 for a device node.
func copyDevice(ctx context.Context, dst, dev string, size int64) (err error) {
	if size <= 0 || size%copyBlock != 0 {
		return fmt.Errorf("copy %s: size %d: not a positive multiple of %d", dev, size, copyBlock)
	}
	in, err := os.OpenFile(dev, os.O_RDONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("copy %s: %w", dev, err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("copy %s to %s: %w", dev, dst, err)
	}
	defer func() {
		if cerr := out.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("copy %s to %s: %w", dev, dst, cerr)
		}
		if err != nil {
			os.Remove(dst)
		}
	}()
	// O_DIRECT needs an aligned buffer: an anonymous mapping is page aligned.
	buf, err := unix.Mmap(-1, 0, copyChunk, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return fmt.Errorf("copy %s: buffer: %w", dev, err)
	}
	defer unix.Munmap(buf)
	if err := out.Truncate(size); err != nil {
		return fmt.Errorf("copy %s to %s: %w", dev, dst, err)
	}
	zero := make([]byte, copyBlock)
	for off := int64(0); off < size; off += copyChunk {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("copy %s: %w", dev, err)
		}
		chunk := buf[:min(copyChunk, size-off)]
		if err := preadFull(in, chunk, off); err != nil {
			return fmt.Errorf("copy %s at %d: %w", dev, off, err)
		}
		// Write each run of non-zero blocks with one write.
		for i := 0; i < len(chunk); {
			if bytes.Equal(chunk[i:i+copyBlock], zero) {
				i += copyBlock
				continue
			}
			j := i + copyBlock
			for j < len(chunk) && !bytes.Equal(chunk[j:j+copyBlock], zero) {
				j += copyBlock
			}
			if _, err := out.WriteAt(chunk[i:j], off+int64(i)); err != nil {
				return fmt.Errorf("copy %s to %s: %w", dev, dst, err)
			}
			i = j
		}
	}
	if err := out.Sync(); err != nil {
		return fmt.Errorf("copy %s to %s: %w", dev, dst, err)
	}
	return nil
}

// preadFull fills b from f at off.
func preadFull(f *os.File, b []byte, off int64) error {
	for done := 0; done < len(b); {
		n, err := unix.Pread(int(f.Fd()), b[done:], off+int64(done))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("short read: device ends at %d", off+int64(done))
		}
		done += n
	}
	return nil
}
