package loop

import (
	"fmt"
	"path/filepath"
	"sync"

	"github.com/warrenhq/warren/blockdev"
)

// Shared hands out one read-only loop device per backing file, reference-counted;
// the device is detached when the count returns to zero. The zero value is ready
// to use and safe for concurrent use. Paths are compared after filepath.Clean.
type Shared struct {
	mu      sync.Mutex // guards entries and every entry's refs
	entries map[string]*sharedEntry
}

type sharedEntry struct {
	mu   sync.Mutex // held while attaching or detaching; guards dev
	dev  string
	refs int
}

// Acquire returns the read-only loop device of path, attaching it on first use,
// and takes one reference. Every successful Acquire needs one Release; a failed
// Acquire holds nothing.
func (s *Shared) Acquire(path string) (string, error) {
	path = filepath.Clean(path)
	s.mu.Lock()
	if s.entries == nil {
		s.entries = make(map[string]*sharedEntry)
	}
	e := s.entries[path]
	if e == nil {
		e = &sharedEntry{}
		s.entries[path] = e
	}
	e.refs++ // counted before attaching so a concurrent last Release keeps the entry
	s.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.dev != "" {
		return e.dev, nil
	}
	dev, err := Attach(path, true)
	if err != nil {
		s.mu.Lock()
		e.refs--
		if e.refs == 0 && s.entries[path] == e {
			delete(s.entries, path)
		}
		s.mu.Unlock()
		return "", fmt.Errorf("shared loop %s: %w", path, err)
	}
	e.dev = dev
	return dev, nil
}

// Release gives back one reference to path's device; the last one detaches it.
// Releasing a path that holds no reference fails with blockdev.ErrNotFound. If the
// detach fails the device stays attached and is reused by the next Acquire.
func (s *Shared) Release(path string) error {
	path = filepath.Clean(path)
	s.mu.Lock()
	e := s.entries[path]
	if e == nil || e.refs == 0 {
		s.mu.Unlock()
		return fmt.Errorf("shared loop release %s: no reference held: %w", path, blockdev.ErrNotFound)
	}
	e.refs--
	last := e.refs == 0
	s.mu.Unlock()
	if !last {
		return nil
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	s.mu.Lock()
	again := e.refs > 0 // re-acquired while we waited: keep the device
	s.mu.Unlock()
	if again || e.dev == "" {
		return nil
	}
	if err := Detach(e.dev); err != nil {
		return fmt.Errorf("shared loop release %s: %w", path, err)
	}
	e.dev = ""
	s.mu.Lock()
	if e.refs == 0 && s.entries[path] == e {
		delete(s.entries, path)
	}
	s.mu.Unlock()
	return nil
}

// Refs returns the reference count of every backing file currently held.
func (s *Shared) Refs() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.entries))
	for p, e := range s.entries {
		if e.refs > 0 {
			out[p] = e.refs
		}
	}
	return out
}
