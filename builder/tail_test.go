package builder

import (
	"strings"
	"testing"
)

func TestTailBuffer(t *testing.T) {
	for _, tc := range []struct {
		name      string
		max       int
		writes    []string
		want      string
		truncated bool
	}{
		{"fits", 8, []string{"ab", "cd"}, "abcd", false},
		{"keeps the tail", 4, []string{"abc", "def"}, "cdef", true},
		{"NUL and invalid bytes", 16, []string{"a\x00b\xffc"}, "a\uFFFDb\uFFFDc", false},
		// "é" is 2 bytes; the cut keeps only its second byte.
		{"split rune", 3, []string{"é", "xy"}, "\uFFFDxy", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newTail(tc.max)
			for _, w := range tc.writes {
				if n, err := b.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
			}
			got, truncated := b.result()
			if got != tc.want || truncated != tc.truncated || strings.ContainsRune(got, 0) {
				t.Errorf("result() = %q, %v; want %q, %v", got, truncated, tc.want, tc.truncated)
			}
		})
	}
}
