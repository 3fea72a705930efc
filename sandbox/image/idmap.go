package image

import (
	"errors"
	"fmt"
	"math"
)

// Errors returned by this package, wrapped with %w and the path or argument
// concerned.
var (
	ErrInvalid  = errors.New("invalid argument")
	ErrExists   = errors.New("already exists")
	ErrNotFound = errors.New("not found")
)

// IDMap maps container IDs to host IDs: container uid N is host uid HostUID+N
// and container gid N is host gid HostGID+N, for N < Size.
type IDMap struct {
	HostUID uint32
	HostGID uint32
	Size    uint32
}

// DefaultIDMap is the map sandboxes use unless configured otherwise: 65536
// IDs starting at host ID 100000.
func DefaultIDMap() IDMap {
	return IDMap{HostUID: 100000, HostGID: 100000, Size: 65536}
}

// Validate reports whether m maps a usable, unprivileged range.
func (m IDMap) Validate() error {
	switch {
	case m.Size == 0:
		return fmt.Errorf("idmap: size is 0: %w", ErrInvalid)
	case m.HostUID == 0 || m.HostGID == 0:
		return fmt.Errorf("idmap: host base uid %d gid %d must not be 0 (root): %w", m.HostUID, m.HostGID, ErrInvalid)
	case uint64(m.HostUID)+uint64(m.Size) > math.MaxUint32 || uint64(m.HostGID)+uint64(m.Size) > math.MaxUint32:
		return fmt.Errorf("idmap: base %d/%d + size %d overflows 32 bits: %w", m.HostUID, m.HostGID, m.Size, ErrInvalid)
	}
	return nil
}
