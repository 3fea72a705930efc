package runc

import (
	"errors"
	"fmt"
	"regexp"
)

// Errors returned by this package, wrapped with %w and the container ID.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	ErrInvalid  = errors.New("invalid argument")
	// ErrRuntime is a runc failure not covered above; the message carries runc's.
	ErrRuntime = errors.New("runc failed")
)

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_+\-][A-Za-z0-9_+\-.]{0,127}$`)

// ValidateID reports whether id is usable as a container ID (and as a cgroup
// and file name): 1-128 letters, digits, '_', '+', '-', '.'; not starting with '.'.
func ValidateID(id string) error {
	if !idPattern.MatchString(id) {
		return fmt.Errorf("container id %q: want 1-128 of [A-Za-z0-9_+-.], not starting with '.': %w", id, ErrInvalid)
	}
	return nil
}
