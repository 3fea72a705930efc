package dm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/warrenhq/warren/blockdev/internal/ext4"
)

// resizeDevice resizes the unmounted ext4 filesystem on block device dev from
// fromBytes to toBytes with resize2fs. A shrink runs e2fsck -f -y first, as
// resize2fs demands; a grow runs it only when resize2fs asks for it.
// (ext4.Resize works on image files: it truncates them.)
func resizeDevice(ctx context.Context, dev string, fromBytes, toBytes int64) error {
	if toBytes < fromBytes {
		if err := ext4.Fsck(ctx, dev); err != nil {
			return fmt.Errorf("shrink %s: %w", dev, err)
		}
	}
	size := strconv.FormatInt(toBytes/1024, 10) + "K"
	for try := 0; ; try++ {
		out, err := runTool(ctx, "resize2fs", dev, size)
		if err == nil {
			return nil
		}
		if try == 0 && strings.Contains(out, "Please run 'e2fsck -f") {
			if err := ext4.Fsck(ctx, dev); err != nil {
				return fmt.Errorf("resize %s to %s: %w", dev, size, err)
			}
			continue
		}
		return fmt.Errorf("resize %s from %d to %d bytes: %w", dev, fromBytes, toBytes, err)
	}
}

// runTool runs an e2fsprogs tool with the C locale; a non-zero exit is an error
// carrying the tool's output.
func runTool(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return out.String(), fmt.Errorf("%s %s: exit status %d: %s", name, strings.Join(args, " "), exit.ExitCode(), strings.TrimSpace(out.String()))
	}
	if err != nil {
		return out.String(), fmt.Errorf("%s: %w", name, err)
	}
	return out.String(), nil
}
