// Package naming validates the names pools accept for images and snapshots and
// the prefixes that mark a pool's host objects.
package naming

import (
	"fmt"
	"strings"

	"github.com/warrenhq/warren/blockdev"
)

// MaxLen is the longest image or snapshot name.
const MaxLen = 128

// MaxPrefixLen is the longest pool prefix.
const MaxPrefixLen = 32

// Check validates an image or snapshot name: 1 to 128 characters from
// [A-Za-z0-9._-], no "..". The error wraps blockdev.ErrInvalid and names arg.
func Check(arg, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%s: empty: %w", arg, blockdev.ErrInvalid)
	case len(name) > MaxLen:
		return fmt.Errorf("%s %.20q...: longer than %d characters: %w", arg, name, MaxLen, blockdev.ErrInvalid)
	case name == "." || strings.Contains(name, ".."):
		return fmt.Errorf("%s %q: must not be \".\" or contain \"..\": %w", arg, name, blockdev.ErrInvalid)
	}
	for _, c := range name {
		if !alnum(c) && c != '.' && c != '_' && c != '-' {
			return fmt.Errorf("%s %q: character %q not in [A-Za-z0-9._-]: %w", arg, name, c, blockdev.ErrInvalid)
		}
	}
	return nil
}

// CheckPrefix validates a pool prefix: 1 to 32 characters from [A-Za-z0-9_]. It
// has no '-' because '-' separates the prefix from the name in host objects
// ("<prefix>-<name>"), so no prefix is the start of another's objects.
func CheckPrefix(prefix string) error {
	if prefix == "" || len(prefix) > MaxPrefixLen {
		return fmt.Errorf("prefix %q: must be 1 to %d characters: %w", prefix, MaxPrefixLen, blockdev.ErrInvalid)
	}
	for _, c := range prefix {
		if !alnum(c) && c != '_' {
			return fmt.Errorf("prefix %q: character %q not in [A-Za-z0-9_]: %w", prefix, c, blockdev.ErrInvalid)
		}
	}
	return nil
}

func alnum(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
