package ext4

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Resize sets the filesystem in the image file at path to sizeBytes rounded down
// to a 4 KiB block, offline: the file is extended before growing and truncated
// after shrinking. resize2fs refuses some resizes (a shrink after the image was
// mounted) until e2fsck -f has run; Resize runs it then and retries once.
func Resize(ctx context.Context, path string, sizeBytes int64) error {
	size := sizeBytes / BlockSize * BlockSize
	if size <= 0 {
		return fmt.Errorf("resize %s: size %d: below one block", path, sizeBytes)
	}
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("resize %s: %w", path, err)
	}
	if st.Size() < size {
		if err := os.Truncate(path, size); err != nil {
			return fmt.Errorf("resize %s: extend file: %w", path, err)
		}
	}
	if err := resize2fs(ctx, path, strconv.FormatInt(size/1024, 10)+"K"); err != nil {
		return err
	}
	if st.Size() > size {
		if err := os.Truncate(path, size); err != nil {
			return fmt.Errorf("resize %s: truncate file: %w", path, err)
		}
	}
	return nil
}

// Shrink shrinks the filesystem in the image file at path to its minimum size
// (resize2fs -M) and truncates the file to it.
func Shrink(ctx context.Context, path string) error {
	if err := resize2fs(ctx, path, "-M"); err != nil {
		return err
	}
	info, err := ReadSuperblock(path)
	if err != nil {
		return fmt.Errorf("shrink %s: %w", path, err)
	}
	if err := os.Truncate(path, info.Bytes()); err != nil {
		return fmt.Errorf("shrink %s: truncate file: %w", path, err)
	}
	return nil
}

func resize2fs(ctx context.Context, path, arg string) error {
	args := []string{path, arg}
	if arg == "-M" {
		args = []string{"-M", path}
	}
	for try := 0; ; try++ {
		out, code, err := run(ctx, "resize2fs", args...)
		if err != nil {
			return err
		}
		if code == 0 {
			return nil
		}
		if try == 0 && strings.Contains(out, "Please run 'e2fsck -f") {
			if err := Fsck(ctx, path); err != nil {
				return fmt.Errorf("resize2fs %s %s: %w", path, arg, err)
			}
			continue
		}
		return toolError("resize2fs "+arg, path, code, out)
	}
}
