package sandbox

import "errors"

// Error categories the runtime returns, wrapped with %w and the sandbox ID.
// Package sandboxes names the same values (sandboxes.ErrNotFound is
// ErrNotFound), so a runtime error keeps its category up to the API.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	ErrInvalid  = errors.New("invalid argument")
)
