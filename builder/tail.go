package builder

import (
	"strings"
	"sync"
)

// MaxLogBytes is how much of each stream a step's log keeps: the last bytes.
const MaxLogBytes = 64 << 10

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu        sync.Mutex
	max       int
	buf       []byte
	truncated bool
}

func newTail(max int) *tailBuffer { return &tailBuffer{max: max} }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.truncated = true
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// result is the kept output as valid UTF-8 without NUL (Postgres jsonb
// refuses \u0000): NULs and invalid bytes, including a sequence the cut split,
// become U+FFFD.
func (t *tailBuffer) result() (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.ToValidUTF8(string(t.buf), "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "\uFFFD"), t.truncated
}
