package sandboxes

import "fmt"

// Status is a sandbox's lifecycle state.
type Status string

// The lifecycle: creating → running ↔ paused → killed | expired | failed | lost;
// a warm pool's sandbox is pooled → running (claimed) | killed | failed | lost.
const (
	StatusCreating Status = "creating"
	StatusRunning  Status = "running"
	StatusPaused   Status = "paused"
	StatusKilled   Status = "killed"
	StatusExpired  Status = "expired"
	StatusFailed   Status = "failed"
	StatusLost     Status = "lost"
	// StatusPooled is a warm pool's pre-started sandbox, owned by no team
	// until a create claims it (it then becomes running).
	StatusPooled Status = "pooled"
)

// Live reports whether the sandbox still holds resources.
func (s Status) Live() bool {
	return s == StatusCreating || s == StatusRunning || s == StatusPaused
}

// transitions lists the states each state may move to.
var transitions = map[Status][]Status{
	StatusCreating: {StatusRunning, StatusFailed, StatusKilled, StatusLost},
	StatusRunning:  {StatusPaused, StatusKilled, StatusExpired, StatusFailed, StatusLost},
	StatusPaused:   {StatusRunning, StatusKilled, StatusExpired, StatusFailed, StatusLost},
	StatusPooled:   {StatusRunning, StatusKilled, StatusFailed, StatusLost},
}

// From returns the states from which to is reachable (for conditional updates).
func From(to Status) []string {
	var out []string
	for from, tos := range transitions {
		for _, t := range tos {
			if t == to {
				out = append(out, string(from))
			}
		}
	}
	return out
}

// CheckTransition reports whether from → to is allowed.
func CheckTransition(from, to Status) error {
	for _, t := range transitions[from] {
		if t == to {
			return nil
		}
	}
	return fmt.Errorf("%w: a %s sandbox cannot become %s", ErrConflict, from, to)
}
