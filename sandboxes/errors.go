package sandboxes

import (
	"errors"
	"strings"

	"github.com/warrenhq/warren/sandbox"
)

// Error categories, wrapped with %w and the sandbox ID. The first three are
// the runtime's own values, so an error from package sandbox matches them as
// it is.
var (
	ErrNotFound    = sandbox.ErrNotFound
	ErrConflict    = sandbox.ErrConflict
	ErrInvalid     = sandbox.ErrInvalid
	ErrUnavailable = errors.New("unavailable")
)

// ConflictReason returns the part of a conflict error written for users, the
// text after "conflict: " ("it is paused"); "" when err has none.
func ConflictReason(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ErrConflict.Error()+": "); i >= 0 {
		return msg[i+len(ErrConflict.Error())+2:]
	}
	return ""
}

// FieldError is an invalid request field; it matches ErrInvalid. It is the
// runtime's type, so a field the runtime refuses (an egress list entry) keeps
// its name up to the API.
type FieldError = sandbox.FieldError

// Fieldf returns a FieldError for field.
func Fieldf(field, format string, args ...any) error { return sandbox.Fieldf(field, format, args...) }

// CapacityError says the node cannot take more work now; clients retry later.
type CapacityError struct{ Message string }

func (e *CapacityError) Error() string        { return e.Message }
func (e *CapacityError) Is(target error) bool { return target == ErrUnavailable }

// UnavailableError says a needed part of the platform is down for now (no
// cluster leader, the owning node unreachable); clients retry later.
type UnavailableError struct{ Message string }

func (e *UnavailableError) Error() string        { return e.Message }
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }
