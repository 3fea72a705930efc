package sandboxes

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/warrenhq/warren/sandbox"
)

// Healthcheck is a command that must exit 0 before a sandbox counts as ready,
// as stored (JSON) on templates and builds. Runtime converts it to the
// runtime's sandbox.Healthcheck.
type Healthcheck struct {
	Cmd            string `json:"cmd"`
	IntervalSec    int    `json:"interval_sec,omitempty"`     // between tries (default 1)
	TimeoutSec     int    `json:"timeout_sec,omitempty"`      // one try (default 5)
	Retries        int    `json:"retries,omitempty"`          // failed tries after start_period (default 30)
	StartPeriodSec int    `json:"start_period_sec,omitempty"` // failures here do not count (default 0)
}

// ParseHealthcheck decodes a stored healthcheck; nil or "null" gives nil.
func ParseHealthcheck(b []byte) (*Healthcheck, error) {
	if len(b) == 0 || string(b) == "null" {
		return nil, nil
	}
	var h Healthcheck
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("%w: healthcheck: %v", ErrInvalid, err)
	}
	return &h, nil
}

// Runtime is h for the runtime (nil stays nil); a zero or negative field
// keeps the runtime's default.
func (h *Healthcheck) Runtime() *sandbox.Healthcheck {
	if h == nil {
		return nil
	}
	sec := func(n int) time.Duration { return time.Duration(max(n, 0)) * time.Second }
	return &sandbox.Healthcheck{Cmd: h.Cmd, Interval: sec(h.IntervalSec), Timeout: sec(h.TimeoutSec),
		Retries: max(h.Retries, 0), StartPeriod: sec(h.StartPeriodSec)}
}
