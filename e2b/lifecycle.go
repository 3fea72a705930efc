package e2b

import (
	"errors"
	"net/http"
	"time"

	"github.com/warrenhq/warren/sandboxes"
	"github.com/warrenhq/warren/store/db"
)

func isConflict(err error) bool { return errors.Is(err, sandboxes.ErrConflict) }

// setTimeout serves POST /sandboxes/{sandboxID}/timeout: the sandbox ends
// timeout seconds from now (shorter or longer than before). 204.
func (h *Handler) setTimeout(w http.ResponseWriter, r *http.Request) {
	var q struct {
		Timeout *int64 `json:"timeout"`
	}
	if err := decode(r, &q, false); err != nil {
		h.writeError(w, r, err)
		return
	}
	if q.Timeout == nil {
		h.writeError(w, r, invalid("timeout", "is required"))
		return
	}
	row, err := h.liveSandbox(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if _, err := h.sandboxes.SetTimeout(r.Context(), row.TeamID, row.ID, *q.Timeout); err != nil {
		h.writeError(w, r, mapError(err, row.ID.String()))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// extend makes row end at least sec seconds from now, never sooner than it
// would.
func (h *Handler) extend(r *http.Request, row db.Sandbox, sec int64) (db.Sandbox, error) {
	if sec < 1 {
		return row, invalid("timeout", "must be at least 1 second, got %d", sec)
	}
	if row.ExpiresAt != nil && row.ExpiresAt.After(time.Now().Add(time.Duration(sec)*time.Second)) {
		return row, nil
	}
	return h.sandboxes.SetTimeout(r.Context(), row.TeamID, row.ID, sec)
}

// refresh serves POST /sandboxes/{sandboxID}/refreshes: keep the sandbox
// alive at least duration seconds (default 15) from now. 204.
func (h *Handler) refresh(w http.ResponseWriter, r *http.Request) {
	var q struct {
		Duration *int64 `json:"duration"`
	}
	if err := decode(r, &q, true); err != nil {
		h.writeError(w, r, err)
		return
	}
	sec := int64(15)
	if q.Duration != nil {
		sec = *q.Duration
	}
	if sec < 1 || sec > 3600 {
		h.writeError(w, r, invalid("duration", "must be between 1 and 3600 seconds, got %d", sec))
		return
	}
	row, err := h.liveSandbox(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if _, err := h.extend(r, row, sec); err != nil {
		h.writeError(w, r, mapError(err, row.ID.String()))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// errMemory refuses memory:false: Warren's pause freezes the processes and
// keeps their memory; it cannot cold-boot a sandbox from its disk.
var errMemory = invalid("memory", "false (resume from the disk only) is not supported: a paused sandbox keeps its memory")

// pause serves POST /sandboxes/{sandboxID}/pause: 204; 409 when it is
// paused already (the SDK's pause then answers false).
func (h *Handler) pause(w http.ResponseWriter, r *http.Request) {
	var q struct {
		Memory *bool `json:"memory"`
	}
	if err := decode(r, &q, true); err != nil {
		h.writeError(w, r, err)
		return
	}
	if q.Memory != nil && !*q.Memory {
		h.writeError(w, r, errMemory)
		return
	}
	row, err := h.liveSandbox(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if row.Status == string(sandboxes.StatusPaused) {
		h.writeError(w, r, errorf(http.StatusConflict, "sandbox %s is already paused", row.ID))
		return
	}
	if _, err := h.sandboxes.Pause(r.Context(), row.TeamID, row.ID); err != nil {
		h.writeError(w, r, mapError(err, row.ID.String()))
		return
	}
	h.record(w, r, "sandbox.pause", row.ID)
	w.WriteHeader(http.StatusNoContent)
}

// connect serves POST /v2/sandboxes/{sandboxID}/connect (v2, body optional,
// timeout default 300) and POST /sandboxes/{sandboxID}/connect (timeout
// required): a paused sandbox is resumed (201), a running one answered as
// it is (200); either way it lives at least timeout seconds more.
func (h *Handler) connect(v2 bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var q struct {
			Timeout *int64 `json:"timeout"`
			Memory  *bool  `json:"memory"`
		}
		if err := decode(r, &q, v2); err != nil {
			h.writeError(w, r, err)
			return
		}
		sec := int64(300)
		switch {
		case q.Timeout != nil:
			sec = *q.Timeout
		case !v2:
			h.writeError(w, r, invalid("timeout", "is required"))
			return
		}
		if q.Memory != nil && !*q.Memory {
			h.writeError(w, r, errMemory)
			return
		}
		if sec < 1 {
			h.writeError(w, r, invalid("timeout", "must be at least 1 second, got %d", sec))
			return
		}
		h.wake(w, r, sec, false)
	}
}

// resume serves the deprecated POST /sandboxes/{sandboxID}/resume: 201 with
// the resumed sandbox, 409 when it is running already; its timeout (default
// 15 s) is set from now.
func (h *Handler) resume(w http.ResponseWriter, r *http.Request) {
	var q struct {
		Timeout   *int64 `json:"timeout"`
		Memory    *bool  `json:"memory"`
		AutoPause *bool  `json:"autoPause"`
	}
	if err := decode(r, &q, true); err != nil {
		h.writeError(w, r, err)
		return
	}
	sec := int64(15)
	if q.Timeout != nil {
		sec = *q.Timeout
	}
	switch {
	case q.Memory != nil && !*q.Memory:
		h.writeError(w, r, errMemory)
		return
	case q.AutoPause != nil && *q.AutoPause:
		h.writeError(w, r, invalid("autoPause", "pausing on timeout is not supported: Warren kills a sandbox when its timeout passes"))
		return
	case sec < 1:
		h.writeError(w, r, invalid("timeout", "must be at least 1 second, got %d", sec))
		return
	}
	h.wake(w, r, sec, true)
}

// wake resumes the path's sandbox if paused and gives it sec seconds more.
// strict (resume) refuses a running sandbox with 409 and sets the timeout;
// otherwise (connect) a running one is fine and the timeout only extends.
func (h *Handler) wake(w http.ResponseWriter, r *http.Request, sec int64, strict bool) {
	row, err := h.liveSandbox(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	status := http.StatusOK
	switch sandboxes.Status(row.Status) {
	case sandboxes.StatusCreating:
		h.writeError(w, r, errorf(http.StatusConflict, "sandbox %s is still starting", row.ID))
		return
	case sandboxes.StatusRunning:
		if strict {
			h.writeError(w, r, errorf(http.StatusConflict, "sandbox %s is already running", row.ID))
			return
		}
	case sandboxes.StatusPaused:
		resumed, err := h.sandboxes.Resume(r.Context(), row.TeamID, row.ID)
		switch {
		case err == nil:
			row, status = resumed, http.StatusCreated
			h.record(w, r, "sandbox.resume", row.ID)
		case isConflict(err) && !strict:
			// Resumed (or ended) meanwhile by another call: look again.
			if row, err = h.liveSandbox(r); err != nil {
				h.writeError(w, r, err)
				return
			}
		default:
			h.writeError(w, r, mapError(err, row.ID.String()))
			return
		}
	}
	var updated db.Sandbox
	if strict {
		updated, err = h.sandboxes.SetTimeout(r.Context(), row.TeamID, row.ID, sec)
	} else {
		updated, err = h.extend(r, row, sec)
	}
	if err != nil {
		h.writeError(w, r, mapError(err, row.ID.String()))
		return
	}
	writeJSON(w, status, h.viewSandbox(updated))
}
