package sandboxes

import (
	"context"
	"errors"
	"time"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/sandbox"
	"github.com/warrenhq/warren/store"
)

// exited records a sandbox that ended on its own (its agent exited or its
// socket answered from another process; the manager has torn it down) as
// failed with reason. A row that could not be written is written by the
// reaper once Postgres answers.
func (s *Service) exited(sid, reason string) {
	sb, err := id.ParseSandboxID(sid)
	if err != nil {
		s.log.Error("a sandbox with an unparsable id ended", "sandbox", sid, "reason", reason)
		return
	}
	s.log.Warn("sandbox failed: its agent is lost", "sandbox", sid, "reason", reason)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.setStatus(ctx, sb, sandbox.StatusFailed, reason); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.Error("recording a failed sandbox; will retry", "sandbox", sid, "err", err)
		s.unrecorded(sb, reason)
	}
}

// failedToStart is the reason recorded for a failed create.
const failedToStart = "the sandbox failed to start"

// unrecorded remembers a failed sandbox whose row could not be marked failed
// (Postgres was down); the reaper writes it, with msg, as soon as Postgres
// answers.
func (s *Service) unrecorded(sb id.SandboxID, msg string) {
	s.mu.Lock()
	s.failed[sb] = msg
	s.mu.Unlock()
}

// recordFailed writes the failed sandboxes that could not be recorded before.
func (s *Service) recordFailed(ctx context.Context) {
	s.mu.Lock()
	pending := make(map[id.SandboxID]string, len(s.failed))
	for sb, msg := range s.failed {
		pending[sb] = msg
	}
	s.mu.Unlock()
	for sb, msg := range pending {
		_, err := s.setStatus(ctx, sb, sandbox.StatusFailed, msg)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return // Postgres is still away; next round
		}
		s.mu.Lock()
		delete(s.failed, sb)
		s.mu.Unlock()
	}
}
