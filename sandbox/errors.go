package sandbox

import (
	"errors"
	"fmt"
)

// Error categories the runtime returns, wrapped with %w and the sandbox ID.
// Package sandboxes names the same values (sandboxes.ErrNotFound is
// ErrNotFound), so a runtime error keeps its category up to the API.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	ErrInvalid  = errors.New("invalid argument")
)

// FieldError is an invalid field of a Spec (named as the API names it); it
// matches ErrInvalid. Package sandboxes uses the same type for every request field.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string        { return e.Field + ": " + e.Message }
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

// Fieldf returns a FieldError for field.
func Fieldf(field, format string, args ...any) error {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}
