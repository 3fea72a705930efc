package rpc

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	nodev1 "github.com/warrenhq/warren/proto/node/v1"
)

// ChunkSize is the largest data chunk of an image stream.
const ChunkSize = 1 << 20

// zeros is a read-only chunk of zeros, for hashing holes and spotting zero chunks.
var zeros = make([]byte, ChunkSize)

// SendImage serves a PullImage call: it streams the file at path as image name.
// It hashes the file first (the header carries size and checksum), then sends
// the file's data regions, skipping holes and all-zero chunks. The file must
// not change while it is sent (images are immutable); if it does, the
// receiver's checksum check fails. Errors are gRPC statuses (NotFound for a
// missing file).
func SendImage(path, name string, stream nodev1.Node_PullImageServer) error {
	if name == "" {
		return status.Error(codes.InvalidArgument, "image name: must not be empty")
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return status.Errorf(codes.NotFound, "image %s: not on this node", name)
	}
	if err != nil {
		return status.Errorf(codes.Internal, "image %s: open: %v", name, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return status.Errorf(codes.Internal, "image %s: stat: %v", name, err)
	}
	if !st.Mode().IsRegular() {
		return status.Errorf(codes.Internal, "image %s: %s is not a regular file", name, path)
	}
	size := st.Size()
	sum, err := checksumFile(f, size)
	if err != nil {
		return status.Errorf(codes.Internal, "image %s: checksum: %v", name, err)
	}
	hdr := &nodev1.ImageHeader{Name: name, Size: size, Checksum: sum}
	if err := stream.Send(&nodev1.ImageChunk{Msg: &nodev1.ImageChunk_Header{Header: hdr}}); err != nil {
		return fmt.Errorf("image %s: send header: %w", name, err)
	}
	return forEachChunk(f, size, func(off int64, data []byte) error {
		if bytes.Equal(data, zeros[:len(data)]) {
			return nil
		}
		// A fresh buffer per message: gRPC may keep a sent message.
		msg := &nodev1.ImageData{Offset: off, Data: bytes.Clone(data)}
		if err := stream.Send(&nodev1.ImageChunk{Msg: &nodev1.ImageChunk_Data{Data: msg}}); err != nil {
			return fmt.Errorf("image %s: send at offset %d: %w", name, off, err)
		}
		return nil
	})
}

// checksumFile returns "sha256:<hex>" of the first size bytes of f, holes as zeros.
func checksumFile(f *os.File, size int64) (string, error) {
	h := sha256.New()
	pos := int64(0)
	err := forEachChunk(f, size, func(off int64, data []byte) error {
		hashZeros(h, off-pos)
		h.Write(data)
		pos = off + int64(len(data))
		return nil
	})
	if err != nil {
		return "", err
	}
	hashZeros(h, size-pos)
	return formatSum(h), nil
}

func formatSum(h hash.Hash) string { return "sha256:" + hex.EncodeToString(h.Sum(nil)) }

func hashZeros(h hash.Hash, n int64) {
	for n > 0 {
		k := min(n, ChunkSize)
		h.Write(zeros[:k])
		n -= k
	}
}

// forEachChunk calls fn with the data regions of f below size, in order, in
// chunks of at most ChunkSize; holes are skipped. data is reused between calls.
func forEachChunk(f *os.File, size int64, fn func(off int64, data []byte) error) error {
	buf := make([]byte, ChunkSize)
	return forEachDataRegion(f, size, func(start, end int64) error {
		for off := start; off < end; {
			n := min(end-off, ChunkSize)
			if _, err := f.ReadAt(buf[:n], off); err != nil {
				if errors.Is(err, io.EOF) {
					return fmt.Errorf("file shrank while reading at offset %d", off)
				}
				return fmt.Errorf("read at offset %d: %w", off, err)
			}
			if err := fn(off, buf[:n]); err != nil {
				return err
			}
			off += n
		}
		return nil
	})
}

// forEachDataRegion calls fn(start, end) for each data region of f below size,
// using SEEK_DATA/SEEK_HOLE; where the file system lacks them, the whole file
// is one region.
func forEachDataRegion(f *os.File, size int64, fn func(start, end int64) error) error {
	for off := int64(0); off < size; {
		start, err := f.Seek(off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			return nil // no data past off
		}
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP) {
			return fn(off, size)
		}
		if err != nil {
			return fmt.Errorf("seek data from %d: %w", off, err)
		}
		if start >= size {
			return nil
		}
		end, err := f.Seek(start, unix.SEEK_HOLE)
		if err != nil {
			return fmt.Errorf("seek hole from %d: %w", start, err)
		}
		end = min(end, size)
		if err := fn(start, end); err != nil {
			return err
		}
		off = end
	}
	return nil
}
