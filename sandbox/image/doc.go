// Package image builds template root filesystem images: sparse ext4 image files
// whose content is already owned by the host ID range a sandbox's user namespace
// maps root to, so a snapshot of the image can be mounted and used as a
// container rootfs with no ownership shifting at sandbox start.
//
// # Ownership
//
// Sandboxes always run in a user namespace: container uid/gid N is host
// uid/gid IDMap.HostUID+N (resp. HostGID+N) for N < IDMap.Size. Template images
// therefore store files owned by the shifted host IDs (root's files by 100000
// with the default map, uid 1000's by 101000). Builders create the tree in a
// temporary directory next to the destination, shift it with ShiftOwnership,
// and turn it into an image with `mkfs.ext4 -d` — nothing is ever mounted.
//
// # Images
//
//   - BuildBusybox: a tiny root of the host's static busybox and its applet
//     symlinks; builds in well under a second. Used by tests and as the
//     fallback base template.
//   - BuildDebian: Debian bookworm minbase via debootstrap from the machine's
//     own apt mirror (AptMirror); takes minutes and needs the mirror.
//
// Every image has the mount points a sandbox needs: /proc, /sys, /dev, /run,
// /tmp (1777) and /.warren, where the sandbox runtime bind-mounts the init.
//
// Builders write the image to a temporary file beside dst and rename it into
// place only on success; on every failure path the temporary tree and file are
// removed.
package image
