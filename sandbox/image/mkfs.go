package image

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// minImageBytes is the smallest image size accepted: ext4 with a journal needs a
// few MiB before any content.
const minImageBytes = 16 << 20

// checkDst validates the common builder arguments.
func checkDst(dst string, sizeBytes int64, m IDMap) error {
	if dst == "" {
		return fmt.Errorf("image: dst is empty: %w", ErrInvalid)
	}
	if sizeBytes < minImageBytes || sizeBytes%4096 != 0 {
		return fmt.Errorf("image %s: sizeBytes %d must be a multiple of 4096 and at least %d: %w", dst, sizeBytes, minImageBytes, ErrInvalid)
	}
	if err := m.Validate(); err != nil {
		return fmt.Errorf("image %s: %w", dst, err)
	}
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("image %s: %w", dst, ErrExists)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("image %s: %w", dst, err)
	}
	return nil
}

// tempTree makes the temporary directory a builder fills, beside dst so that
// large trees stay on the destination's filesystem.
func tempTree(dst, kind string) (string, error) {
	dir, err := os.MkdirTemp(filepath.Dir(dst), "."+filepath.Base(dst)+"."+kind+"-tree-")
	if err != nil {
		return "", fmt.Errorf("image %s: temp tree: %w", dst, err)
	}
	return dir, nil
}

// makeExt4 turns tree into a sparse ext4 image of sizeBytes at dst, writing a
// temporary file beside dst and renaming it into place on success.
func makeExt4(ctx context.Context, tree, dst string, sizeBytes int64, m IDMap, label string) (err error) {
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := dst + ".tmp-" + hex.EncodeToString(rnd[:])
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("image %s: %w", dst, err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	err = f.Truncate(sizeBytes)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("image %s: size temp file: %w", dst, err)
	}
	cmd := exec.CommandContext(ctx, "mkfs.ext4", "-q", "-F",
		"-L", label,
		"-m", "0", // no blocks reserved for root: the sandbox sees all of its disk
		// 4 KiB blocks and one inode per 16 KiB whatever the image's own size:
		// images are small when made and grown to every disk size later, and
		// mke2fs's "small" profile (1 KiB blocks, an inode per 4 KiB) would cost
		// each grown disk ~7% of its space in inode tables.
		"-b", "4096", "-i", "16384",
		"-d", tree,
		"-E", fmt.Sprintf("root_owner=%d:%d", m.HostUID, m.HostGID),
		tmp)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("image %s: mkfs.ext4 -d: %w: %s", dst, err, strings.TrimSpace(out.String()))
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("image %s: %w", dst, err)
	}
	return nil
}
