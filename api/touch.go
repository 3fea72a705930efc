package api

import (
	"sync"
	"time"

	"github.com/warrenhq/warren/id"
)

// touchEvery is how often one node sends an API key's last-used update. The
// update itself only writes when the stored time is over a minute old, so
// without this every request paid a Postgres round trip that wrote nothing;
// last_used_at is now at most about a minute and a half behind.
const touchEvery = 30 * time.Second

// maxTouched bounds the keys touchMemo remembers; past it, entries older
// than touchEvery are dropped (and all of them if none is).
const maxTouched = 10000

// touchMemo remembers when this node last sent each key's last-used update.
type touchMemo struct {
	mu   sync.Mutex
	sent map[id.APIKeyID]time.Time
}

// due reports whether key's update should be sent at now, and if so counts
// it as sent.
func (m *touchMemo) due(key id.APIKeyID, now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sent == nil {
		m.sent = make(map[id.APIKeyID]time.Time)
	}
	if t, ok := m.sent[key]; ok && now.Sub(t) < touchEvery && !now.Before(t) {
		return false
	}
	if len(m.sent) >= maxTouched {
		for k, t := range m.sent {
			if now.Sub(t) >= touchEvery {
				delete(m.sent, k)
			}
		}
		if len(m.sent) >= maxTouched {
			clear(m.sent)
		}
	}
	m.sent[key] = now
	return true
}
