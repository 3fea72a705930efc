package dm

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

const (
	sectorSize = 512
	// chunkSectors is the snapshot target's chunk size: 8 sectors, 4 KiB, the
	// ext4 block size, so one filesystem block write copies one chunk.
	chunkSectors = 8
	chunkBytes   = chunkSectors * sectorSize
)

// target is one line of a device-mapper table.
type target struct {
	start  uint64 // first sector
	length uint64 // sectors
	kind   string // target type: "snapshot", "linear", "zero"
	params string
}

func (t target) String() string {
	return fmt.Sprintf("%d %d %s %s", t.start, t.length, t.kind, t.params)
}

// devArg is how a table names a block device: "major:minor", which needs no
// device node.
func devArg(dev uint64) string {
	return fmt.Sprintf("%d:%d", unix.Major(dev), unix.Minor(dev))
}

// snapshotTable maps sectors of origin, with writes going to the exception
// store on cow: persistent ("P"), chunks of 8 sectors.
func snapshotTable(sectors uint64, origin, cow uint64) []target {
	return []target{{0, sectors, "snapshot", fmt.Sprintf("%s %s P %d", devArg(origin), devArg(cow), chunkSectors)}}
}

// extendTable extends origin (originSectors long) with zeroes up to sectors:
// the "origin-ext" device a snapshot larger than its image reads through.
func extendTable(originSectors, sectors uint64, origin uint64) []target {
	t := []target{{0, originSectors, "linear", devArg(origin) + " 0"}}
	if sectors > originSectors {
		t = append(t, target{originSectors, sectors - originSectors, "zero", ""})
	}
	return t
}

// encodeTable lays out targets as DM_TABLE_LOAD's payload: each struct
// dm_target_spec followed by its NUL-terminated parameters, padded to 8 bytes;
// spec.next is the offset from this spec to the next one.
func encodeTable(targets []target) ([]byte, error) {
	var out []byte
	for i, t := range targets {
		if t.length == 0 {
			return nil, fmt.Errorf("dm table line %d (%s): zero length", i, t)
		}
		if t.kind == "" || len(t.kind) >= typeLen {
			return nil, fmt.Errorf("dm table line %d: target type %q: empty or longer than %d bytes", i, t.kind, typeLen-1)
		}
		if strings.ContainsRune(t.params, 0) {
			return nil, fmt.Errorf("dm table line %d: parameters hold a NUL byte", i)
		}
		size := align8(specSize + len(t.params) + 1)
		rec := make([]byte, size)
		le.PutUint64(rec[0:], t.start)
		le.PutUint64(rec[8:], t.length)
		le.PutUint32(rec[20:], uint32(size)) // next
		copy(rec[24:24+typeLen-1], t.kind)
		copy(rec[specSize:], t.params)
		out = append(out, rec...)
	}
	return out, nil
}

// decodeStatus parses DM_TABLE_STATUS's answer: count specs, each followed by
// a status (or table) string; there spec.next is the offset from the start of
// the payload.
func decodeStatus(data []byte, count uint32) ([]target, error) {
	var out []target
	off := 0
	for i := uint32(0); i < count; i++ {
		if off+specSize > len(data) {
			return nil, fmt.Errorf("dm status: spec %d at %d past the %d-byte answer", i, off, len(data))
		}
		rec := data[off:]
		t := target{
			start:  le.Uint64(rec[0:]),
			length: le.Uint64(rec[8:]),
			kind:   cString(rec[24 : 24+typeLen]),
			params: cString(rec[specSize:]),
		}
		out = append(out, t)
		next := int(le.Uint32(rec[20:]))
		if i+1 < count && next <= off {
			return nil, fmt.Errorf("dm status: spec %d: next offset %d does not advance", i, next)
		}
		off = next
	}
	return out, nil
}

// snapshotStatus is the snapshot target's status line.
type snapshotStatus struct {
	Invalid   bool // the snapshot overflowed or failed and is unusable
	Allocated uint64
	Total     uint64
	Metadata  uint64
}

// parseSnapshotStatus parses "<allocated>/<total> <metadata>", "Invalid",
// "Overflow" or "Merge failed".
func parseSnapshotStatus(s string) (snapshotStatus, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "Invalid", "Overflow", "Merge failed":
		return snapshotStatus{Invalid: true}, nil
	}
	var st snapshotStatus
	used, meta, ok := strings.Cut(s, " ")
	alloc, total, ok2 := strings.Cut(used, "/")
	if !ok || !ok2 {
		return st, fmt.Errorf("snapshot status %q: want <allocated>/<total> <metadata>", s)
	}
	var err error
	if st.Allocated, err = strconv.ParseUint(alloc, 10, 64); err == nil {
		if st.Total, err = strconv.ParseUint(total, 10, 64); err == nil {
			st.Metadata, err = strconv.ParseUint(strings.TrimSpace(meta), 10, 64)
		}
	}
	if err != nil {
		return snapshotStatus{}, fmt.Errorf("snapshot status %q: %w", s, err)
	}
	return st, nil
}
