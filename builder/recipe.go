// Package builder turns recipes (lists of shell commands) into templates. A build
// is a row in Postgres (the durable queue: queued → running → succeeded | failed
// | cancelled). The dispatcher — run only by the cluster leader; a single node is
// its own leader — claims queued builds for nodes with a free worker slot, using
// its leader term as a fencing token (the claim is refused once a newer leader
// holds the Postgres fence), so a build is never run twice at once and a node
// restart or leader change never loses one. A node's worker pool runs each
// claimed build in a build sandbox: every step through the agent with a per-step
// timeout, its log entry appended (and current_step advanced) in one statement
// after each step. The output is a snapshot template (start command and
// healthcheck pass, disk flattened, both kept on the template) or an image-only
// template (disk flattened and shrunk). Failures and cancels run on a detached
// context, destroy the build sandbox and leave no half-written image.
package builder

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/warrenhq/warren/sandbox"
	"github.com/warrenhq/warren/sandboxes"
)

// Limits of a recipe.
const (
	MaxSteps     = 500
	MaxStepBytes = 64 << 10
	// DefaultStepTimeoutSec is the per-step timeout when a request sets none.
	DefaultStepTimeoutSec = 600
	MaxStepTimeoutSec     = 6 * 3600
)

// Request is a build request as the API receives it.
type Request struct {
	Name           string               `json:"name"`
	BaseTemplate   string               `json:"base_template,omitempty"`
	Recipe         []string             `json:"recipe"`
	StartCmd       string               `json:"start_cmd,omitempty"`
	Healthcheck    *sandbox.Healthcheck `json:"healthcheck,omitempty"`
	VCPUs          float64              `json:"vcpus,omitempty"`
	MemoryMB       int64                `json:"memory_mb,omitempty"`
	DiskSizeMB     int64                `json:"disk_size_mb,omitempty"`
	StepTimeoutSec int64                `json:"step_timeout_sec,omitempty"`
}

// Normalize fills defaults and validates r against limits, naming the field
// at fault.
func (r *Request) Normalize(l sandboxes.Limits) error {
	if !sandboxes.TemplateName.MatchString(r.Name) {
		return sandbox.Fieldf("name", "must be 1-63 of a-z, 0-9, '.', '_', '-', starting with a letter or digit")
	}
	if r.BaseTemplate == "" {
		r.BaseTemplate = "base"
	}
	if len(r.BaseTemplate) > 128 {
		return sandbox.Fieldf("base_template", "must be at most 128 characters")
	}
	// A template name or tpl- ID: printable text only (a NUL would reach
	// Postgres, which refuses it with an internal error).
	if !utf8.ValidString(r.BaseTemplate) || strings.IndexFunc(r.BaseTemplate, unicode.IsControl) >= 0 {
		return sandbox.Fieldf("base_template", "must be a template name or ID without control characters")
	}
	if len(r.Recipe) == 0 {
		return sandbox.Fieldf("recipe", "must have at least one step")
	}
	if len(r.Recipe) > MaxSteps {
		return sandbox.Fieldf("recipe", "must have at most %d steps, got %d", MaxSteps, len(r.Recipe))
	}
	for i, step := range r.Recipe {
		f := fmt.Sprintf("recipe[%d]", i)
		switch {
		case strings.TrimSpace(step) == "":
			return sandbox.Fieldf(f, "is empty")
		case len(step) > MaxStepBytes:
			return sandbox.Fieldf(f, "is %d bytes; a step is at most %d", len(step), MaxStepBytes)
		case !utf8.ValidString(step) || strings.ContainsRune(step, 0):
			return sandbox.Fieldf(f, "must be UTF-8 text without NUL")
		}
	}
	if len(r.StartCmd) > MaxStepBytes || strings.ContainsRune(r.StartCmd, 0) {
		return sandbox.Fieldf("start_cmd", "must be at most %d bytes without NUL", MaxStepBytes)
	}
	if h := r.Healthcheck; h != nil {
		if r.StartCmd == "" {
			return sandbox.Fieldf("healthcheck", "needs a start_cmd")
		}
		if strings.TrimSpace(h.Cmd) == "" || len(h.Cmd) > MaxStepBytes || strings.ContainsRune(h.Cmd, 0) {
			return sandbox.Fieldf("healthcheck.cmd", "is required, at most %d bytes without NUL", MaxStepBytes)
		}
		for _, c := range []struct {
			f   string
			v   int
			max int
		}{{"healthcheck.interval_sec", h.IntervalSec, 300}, {"healthcheck.timeout_sec", h.TimeoutSec, 300},
			{"healthcheck.retries", h.Retries, 1000}, {"healthcheck.start_period_sec", h.StartPeriodSec, 3600}} {
			if c.v < 0 || c.v > c.max {
				return sandbox.Fieldf(c.f, "must be between 0 and %d", c.max)
			}
		}
	}
	if r.VCPUs == 0 {
		r.VCPUs = l.DefaultVCPUs
	}
	if r.VCPUs < 0.1 || r.VCPUs > l.MaxVCPUs {
		return sandbox.Fieldf("vcpus", "must be between 0.1 and %g", l.MaxVCPUs)
	}
	if r.MemoryMB == 0 {
		r.MemoryMB = 1024
	}
	if r.MemoryMB < 64 || r.MemoryMB > l.MaxMemoryMB {
		return sandbox.Fieldf("memory_mb", "must be between 64 and %d", l.MaxMemoryMB)
	}
	if r.DiskSizeMB == 0 {
		r.DiskSizeMB = l.DefaultDiskMB
	}
	if r.DiskSizeMB < l.MinDiskMB || r.DiskSizeMB > l.MaxDiskMB {
		return sandbox.Fieldf("disk_size_mb", "must be between %d and %d", l.MinDiskMB, l.MaxDiskMB)
	}
	if r.StepTimeoutSec == 0 {
		r.StepTimeoutSec = DefaultStepTimeoutSec
	}
	if r.StepTimeoutSec < 1 || r.StepTimeoutSec > MaxStepTimeoutSec {
		return sandbox.Fieldf("step_timeout_sec", "must be between 1 and %d", MaxStepTimeoutSec)
	}
	return nil
}

// LogEntry is one step's record in a build's logs.
type LogEntry struct {
	Step            int    `json:"step"`
	Cmd             string `json:"cmd"`
	Stdout          string `json:"stdout"`
	Stderr          string `json:"stderr"`
	StdoutTruncated bool   `json:"stdout_truncated,omitempty"`
	StderrTruncated bool   `json:"stderr_truncated,omitempty"`
	ExitCode        int    `json:"exit_code"`
	TimedOut        bool   `json:"timed_out,omitempty"`
	StartedAt       string `json:"started_at"`
	ElapsedMS       int64  `json:"elapsed_ms"`
}
