// Package ext4 wraps the e2fsprogs tools the disk pool runs on image files
// (mkfs.ext4, e2fsck, resize2fs) and reads an ext4 superblock directly, turning
// the tools' failures into errors that carry their output.
package ext4

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// BlockSize is the block size of images the pool makes and the unit snapshot
// sizes are rounded down to.
const BlockSize = 4096

// ErrNotExt4 means a file does not start with an ext2/3/4 superblock.
var ErrNotExt4 = errors.New("not an ext4 filesystem")

// Info is what the superblock says about a filesystem's size.
type Info struct {
	Blocks    uint64
	BlockSize uint32
}

// Bytes is the filesystem size.
func (i Info) Bytes() int64 { return int64(i.Blocks) * int64(i.BlockSize) }

// ReadSuperblock reads the primary superblock of the filesystem at path (an
// image file or a block device).
func ReadSuperblock(path string) (Info, error) {
	f, err := os.Open(path)
	if err != nil {
		return Info{}, err
	}
	defer f.Close()
	sb := make([]byte, 1024)
	if _, err := f.ReadAt(sb, 1024); err != nil {
		if errors.Is(err, io.EOF) {
			return Info{}, fmt.Errorf("superblock of %s: %w", path, ErrNotExt4)
		}
		return Info{}, fmt.Errorf("superblock of %s: %w", path, err)
	}
	le := binary.LittleEndian
	if le.Uint16(sb[0x38:]) != 0xEF53 {
		return Info{}, fmt.Errorf("superblock of %s: %w", path, ErrNotExt4)
	}
	logBS := le.Uint32(sb[0x18:])
	if logBS > 6 {
		return Info{}, fmt.Errorf("superblock of %s: block size 1024<<%d: %w", path, logBS, ErrNotExt4)
	}
	blocks := uint64(le.Uint32(sb[0x4:]))
	const incompat64bit = 0x80
	if le.Uint32(sb[0x60:])&incompat64bit != 0 {
		blocks |= uint64(le.Uint32(sb[0x150:])) << 32
	}
	return Info{Blocks: blocks, BlockSize: 1024 << logBS}, nil
}

// run executes a tool with the C locale and returns its combined output.
func run(ctx context.Context, name string, args ...string) (string, int, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return out.String(), exit.ExitCode(), nil
	}
	if err != nil {
		return out.String(), -1, fmt.Errorf("%s: %w", name, err)
	}
	return out.String(), 0, nil
}

func toolError(name, path string, code int, out string) error {
	return fmt.Errorf("%s %s: exit status %d: %s", name, path, code, strings.TrimSpace(out))
}

// Mkfs makes an ext4 filesystem of sizeBytes (4 KiB blocks) in the file at path,
// creating the file; when srcDir is not empty its content is copied in (-d).
func Mkfs(ctx context.Context, path string, sizeBytes int64, srcDir string) error {
	if sizeBytes < 1<<20 {
		return fmt.Errorf("mkfs.ext4 %s: size %d: below 1 MiB", path, sizeBytes)
	}
	args := []string{"-q", "-F", "-t", "ext4", "-b", strconv.Itoa(BlockSize)}
	if srcDir != "" {
		args = append(args, "-d", srcDir)
	}
	args = append(args, path, strconv.FormatInt(sizeBytes/1024, 10)+"k")
	out, code, err := run(ctx, "mkfs.ext4", args...)
	if err != nil {
		return err
	}
	if code != 0 {
		return toolError("mkfs.ext4", path, code, out)
	}
	return nil
}

// Fsck runs e2fsck -f -y on the unmounted filesystem at path. Exit codes 0-2
// (clean, errors corrected) are success; anything else is an error.
func Fsck(ctx context.Context, path string) error {
	out, code, err := run(ctx, "e2fsck", "-f", "-y", path)
	if err != nil {
		return err
	}
	if code > 2 {
		return toolError("e2fsck -f -y", path, code, out)
	}
	return nil
}
