package rpc

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	nodev1 "github.com/warrenhq/warren/proto/node/v1"
)

// ErrCorrupt reports an image stream that does not match its header (size or
// checksum) or breaks the protocol. Retrying, possibly from another peer, may help.
var ErrCorrupt = errors.New("corrupt image stream")

var checksumRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// tempMarker separates an image's file name from the random suffix of its
// temporary file: "<dst>.tmp-<digits>".
const tempMarker = ".tmp-"

// ReceiveImage pulls image name from client into dstPath. It writes a sparse
// temporary file beside dstPath, checks size and checksum, fsyncs it, renames
// it over dstPath and fsyncs the directory. On any error the temporary file is
// removed and dstPath is untouched (except when only the final directory fsync
// fails: the image is then in place but may not survive a crash). It returns the image's size and checksum
// ("sha256:<hex>"). Stream errors keep their gRPC status (see Retryable);
// mismatches wrap ErrCorrupt.
func ReceiveImage(ctx context.Context, client nodev1.NodeClient, name, dstPath string) (size int64, checksum string, err error) {
	if name == "" {
		return 0, "", errors.New("receive image: name: must not be empty")
	}
	if dstPath == "" {
		return 0, "", fmt.Errorf("receive image %s: dstPath: must not be empty", name)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the stream on early return
	stream, err := client.PullImage(ctx, &nodev1.PullImageRequest{Name: name})
	if err != nil {
		return 0, "", fmt.Errorf("pull image %s: %w", name, err)
	}
	first, err := stream.Recv()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("%w: stream ended before the header", ErrCorrupt)
		}
		return 0, "", fmt.Errorf("pull image %s: %w", name, err)
	}
	hdr := first.GetHeader()
	switch {
	case hdr == nil:
		return 0, "", fmt.Errorf("pull image %s: %w: first message is not a header", name, ErrCorrupt)
	case hdr.Name != name:
		return 0, "", fmt.Errorf("pull image %s: %w: header names image %q", name, ErrCorrupt, hdr.Name)
	case hdr.Size < 0:
		return 0, "", fmt.Errorf("pull image %s: %w: negative size %d", name, ErrCorrupt, hdr.Size)
	case !checksumRE.MatchString(hdr.Checksum):
		return 0, "", fmt.Errorf("pull image %s: %w: bad checksum %q", name, ErrCorrupt, hdr.Checksum)
	}

	f, err := os.CreateTemp(filepath.Dir(dstPath), filepath.Base(dstPath)+tempMarker+"*")
	if err != nil {
		return 0, "", fmt.Errorf("pull image %s: create temp file: %w", name, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := receiveInto(f, stream, hdr); err != nil {
		return 0, "", fmt.Errorf("pull image %s: %w", name, err)
	}
	if err := f.Chmod(0o644); err != nil {
		return 0, "", fmt.Errorf("pull image %s: chmod %s: %w", name, tmp, err)
	}
	if err := f.Sync(); err != nil {
		return 0, "", fmt.Errorf("pull image %s: fsync %s: %w", name, tmp, err)
	}
	if err := f.Close(); err != nil {
		return 0, "", fmt.Errorf("pull image %s: close %s: %w", name, tmp, err)
	}
	if err := os.Rename(tmp, dstPath); err != nil {
		return 0, "", fmt.Errorf("pull image %s: rename to %s: %w", name, dstPath, err)
	}
	if err := syncDir(filepath.Dir(dstPath)); err != nil {
		// The image is in place; only its durability across a crash is in doubt.
		return hdr.Size, hdr.Checksum, fmt.Errorf("pull image %s: %w", name, err)
	}
	return hdr.Size, hdr.Checksum, nil
}

// receiveInto writes the data messages of stream into f, hashing holes as
// zeros, and checks the result against hdr.
func receiveInto(f *os.File, stream nodev1.Node_PullImageClient, hdr *nodev1.ImageHeader) error {
	h := sha256.New()
	pos := int64(0)
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("receive at offset %d: %w", pos, err)
		}
		d := msg.GetData()
		switch {
		case d == nil:
			return fmt.Errorf("%w: non-data message after the header", ErrCorrupt)
		case len(d.Data) > ChunkSize:
			return fmt.Errorf("%w: chunk of %d bytes at offset %d exceeds %d", ErrCorrupt, len(d.Data), d.Offset, ChunkSize)
		case d.Offset < pos:
			return fmt.Errorf("%w: chunk at offset %d overlaps data up to %d", ErrCorrupt, d.Offset, pos)
		case d.Offset > hdr.Size-int64(len(d.Data)):
			return fmt.Errorf("%w: chunk at offset %d (%d bytes) past size %d", ErrCorrupt, d.Offset, len(d.Data), hdr.Size)
		}
		hashZeros(h, d.Offset-pos)
		h.Write(d.Data)
		if _, err := f.WriteAt(d.Data, d.Offset); err != nil {
			return fmt.Errorf("write at offset %d: %w", d.Offset, err)
		}
		pos = d.Offset + int64(len(d.Data))
	}
	hashZeros(h, hdr.Size-pos)
	if err := f.Truncate(hdr.Size); err != nil {
		return fmt.Errorf("truncate to %d: %w", hdr.Size, err)
	}
	if got := formatSum(h); got != hdr.Checksum {
		return fmt.Errorf("%w: checksum %s, header says %s", ErrCorrupt, got, hdr.Checksum)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync dir %s: %w", dir, err)
	}
	return nil
}

// RemoveStaleTemps removes the temporary files ReceiveImage left in dir when
// the process died mid-transfer ("<image>.tmp-<digits>"); call it at node start,
// before any pull. It returns the paths removed.
func RemoveStaleTemps(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("remove stale image temps in %s: %w", dir, err)
	}
	var removed []string
	for _, e := range entries {
		if !e.Type().IsRegular() || !isTempName(e.Name()) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return removed, fmt.Errorf("remove stale image temp %s: %w", p, err)
		}
		removed = append(removed, p)
	}
	return removed, nil
}

func isTempName(n string) bool {
	i := strings.LastIndex(n, tempMarker)
	if i <= 0 {
		return false
	}
	suffix := n[i+len(tempMarker):]
	return suffix != "" && strings.Trim(suffix, "0123456789") == ""
}
