// Package blockdev is a node's copy-on-write disk pool: it stores template images
// and hands out one writable block device per sandbox, cloned cheaply from an image.
//
// # Vocabulary
//
//   - Image: an ext4 filesystem image file stored in the pool under a name (a
//     template's image name, e.g. "tpl-<uuid>" or "base"). Images are read-only once
//     imported; every snapshot of an image shares its unchanged blocks.
//   - Snapshot: one writable block device (a loop device or a device-mapper device)
//     whose initial content is an image, sized to the disk a sandbox asked for. A
//     snapshot has a name chosen by the caller (a sandbox ID in wire form); names are
//     unique within a pool.
//   - Names of images and snapshots are 1 to 128 characters from [A-Za-z0-9._-]
//     and contain no ".."; any other name fails with ErrInvalid naming the
//     argument ("name", "origin", "dst").
//   - Backend: how snapshots are made. "dm" uses a device-mapper snapshot target over
//     a shared read-only loop device of the image and a sparse CoW file; "reflink"
//     clones the image file with FICLONE (XFS or btrfs) and attaches the clone to a
//     loop device.
//
// # Lifecycle
//
// A node opens exactly one Pool over its data dir at start, calls CleanupStale to
// remove what a crash left behind, then EnsureImageSizes so every stored image is at
// least the default disk size (grown sparsely, offline). The sandbox manager then
// calls CreateSnapshot for each sandbox and mounts the returned device itself
// (ext4, with the noinit_itable option: otherwise the kernel zeroes never-used
// inode tables in the background and every idle snapshot gets its own copy of
// them); it unmounts before Remove. Flatten turns a snapshot's current content into a new,
// compact image (templates built from sandboxes). Close releases pool-wide
// resources (e.g. the pool's own loop-mounted filesystem) but never removes
// snapshots: a restarted node finds them with CleanupStale.
//
// # Concurrency
//
// All methods are safe for concurrent use. Concurrent CreateSnapshot calls from the
// same image share one origin loop device (dm backend) with a reference count; the
// count is released on every path, including failures half-way through a create.
//
// # Sizes
//
// The filesystem inside a snapshot has exactly the size asked for (rounded down to a
// 4 KiB block). Writing past it gives ENOSPC inside the filesystem, never an I/O
// error, an invalidated snapshot, or harm to other snapshots or the host.
// How a size other than the image's is reached is the backend's: dm resizes
// each snapshot's device; reflink resizes a copy of the image once per size
// and clones that copy afterwards (see reflink's sizes.go).
//
// # Ownership
//
// Every host object a pool creates (loop devices' backing files, dm device names,
// files under the pool directory) carries the pool's Prefix, so CleanupStale on one
// node never touches another node's or another program's objects. A prefix is 1
// to 32 characters from [A-Za-z0-9_]: no '-', which separates the prefix from the
// name in object names, so no prefix is the start of another pool's objects.
package blockdev

import (
	"context"
	"errors"
)

// Errors returned by pools, wrapped with %w and the name concerned.
var (
	ErrNotFound    = errors.New("not found")
	ErrExists      = errors.New("already exists")
	ErrInvalid     = errors.New("invalid argument")
	ErrUnavailable = errors.New("unavailable")
)

// Pool is a node's disk pool. See the package documentation for the vocabulary,
// lifecycle and concurrency rules.
type Pool interface {
	// Backend names the backend: "dm" or "reflink".
	Backend() string

	// ImportImage copies (or reflinks) the ext4 image file at src into the pool as
	// image name. It fails with ErrExists if the image is already stored.
	ImportImage(ctx context.Context, name, src string) (ImageInfo, error)
	// Image describes a stored image, or fails with ErrNotFound.
	Image(ctx context.Context, name string) (ImageInfo, error)
	// Images lists the stored images.
	Images(ctx context.Context) ([]ImageInfo, error)
	// RemoveImage deletes a stored image. It fails with ErrInvalid while a
	// snapshot of it exists.
	RemoveImage(ctx context.Context, name string) error

	// EnsureImageSizes grows every stored image whose filesystem is smaller than
	// minBytes (rounded down to 4 KiB) to that size (truncate, e2fsck -f -y,
	// resize2fs; offline, sparse: only new group metadata is written). A
	// concurrent CreateSnapshot sees the image before or after, never half-grown.
	// Idempotent.
	EnsureImageSizes(ctx context.Context, minBytes int64) error

	// CreateSnapshot makes the writable device for snapshot name from image
	// origin, holding a filesystem of exactly sizeBytes. On failure nothing it
	// created is left behind.
	CreateSnapshot(ctx context.Context, name, origin string, sizeBytes int64) (Snapshot, error)
	// Snapshots lists the snapshots this pool holds.
	Snapshots(ctx context.Context) ([]Snapshot, error)
	// Flatten copies the current content of snapshot name into a new stored image
	// dst: the filesystem is quiesced (FIFREEZE when mounted) during the copy, the
	// copy is checked (e2fsck) and shrunk to its minimum (resize2fs -M). The
	// snapshot is left as it was. On failure no part of dst is left.
	Flatten(ctx context.Context, name, dst string) (ImageInfo, error)
	// Remove detaches and deletes snapshot name. The caller has unmounted it.
	// "Device busy" is retried with bounded backoff (about 2 s); if the device is
	// still in use, Remove fails with an error wrapping EBUSY and the snapshot
	// stays, to be removed again later. Removing a snapshot that does not exist
	// fails with ErrNotFound.
	Remove(ctx context.Context, name string) error

	// CleanupStale removes every snapshot, device, loop device and half-written
	// file carrying this pool's prefix: what a crash left behind. Call it at start,
	// before any CreateSnapshot.
	CleanupStale(ctx context.Context) error

	// Close releases pool-wide resources. Snapshots are left in place.
	Close() error
}

// ImageInfo describes a stored image.
type ImageInfo struct {
	Name           string
	Path           string // the image file
	ApparentBytes  int64  // the file's size
	AllocatedBytes int64  // physical bytes (st_blocks * 512)
}

// Snapshot describes one snapshot.
type Snapshot struct {
	Name      string
	Origin    string // the image it was made from
	Device    string // the block device to mount, e.g. /dev/loop7 or /dev/mapper/...
	SizeBytes int64  // the filesystem size inside
}
