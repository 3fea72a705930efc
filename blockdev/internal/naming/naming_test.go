package naming

import (
	"errors"
	"strings"
	"testing"

	"github.com/warrenhq/warren/blockdev"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"sb-0123", true}, {"tpl_a.b", true}, {strings.Repeat("a", 128), true},
		{"", false}, {".", false}, {"..", false}, {"a..b", false}, {"a/b", false},
		{strings.Repeat("a", 129), false}, {"a b", false}, {"é", false},
	} {
		err := Check("name", tc.name)
		if (err == nil) != tc.ok || (err != nil && (!errors.Is(err, blockdev.ErrInvalid) || !strings.HasPrefix(err.Error(), "name"))) {
			t.Errorf("Check(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestCheckPrefix(t *testing.T) {
	for p, ok := range map[string]bool{"n1": true, "warren_n1": true, "": false, "a-b": false, "a.b": false, strings.Repeat("p", 33): false} {
		if err := CheckPrefix(p); (err == nil) != ok {
			t.Errorf("CheckPrefix(%q) = %v, want ok=%v", p, err, ok)
		}
	}
}
