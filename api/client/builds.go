package client

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Build statuses.
const (
	BuildQueued    = "queued"
	BuildRunning   = "running"
	BuildSucceeded = "succeeded"
	BuildFailed    = "failed"
	BuildCancelled = "cancelled"
)

// CreateBuild asks for a template built from a recipe (admin).
type CreateBuild struct {
	Name           string       `json:"name"`
	BaseTemplate   string       `json:"base_template,omitempty"` // default "base"
	Recipe         []string     `json:"recipe"`                  // shell steps, run in order
	StartCmd       string       `json:"start_cmd,omitempty"`
	Healthcheck    *Healthcheck `json:"healthcheck,omitempty"`
	VCPUs          float64      `json:"vcpus,omitempty"`
	MemoryMB       int64        `json:"memory_mb,omitempty"`
	DiskSizeMB     int64        `json:"disk_size_mb,omitempty"`
	StepTimeoutSec int64        `json:"step_timeout_sec,omitempty"`
}

// BuildLog is one recipe step's record.
type BuildLog struct {
	Step            int       `json:"step"`
	Cmd             string    `json:"cmd"`
	Stdout          string    `json:"stdout"`
	Stderr          string    `json:"stderr"`
	StdoutTruncated bool      `json:"stdout_truncated"`
	StderrTruncated bool      `json:"stderr_truncated"`
	ExitCode        int       `json:"exit_code"`
	TimedOut        bool      `json:"timed_out,omitempty"`
	StartedAt       time.Time `json:"started_at"`
	ElapsedMS       int64     `json:"elapsed_ms"`
}

// Build is a template build.
type Build struct {
	ID             string       `json:"id"`
	Name           string       `json:"name"`
	BaseTemplate   string       `json:"base_template"`
	Recipe         []string     `json:"recipe"`
	Status         string       `json:"status"`
	CurrentStep    int          `json:"current_step"`
	TotalSteps     int          `json:"total_steps"`
	StartCmd       string       `json:"start_cmd,omitempty"`
	Healthcheck    *Healthcheck `json:"healthcheck,omitempty"`
	VCPUs          float64      `json:"vcpus"`
	MemoryMB       int64        `json:"memory_mb"`
	DiskSizeMB     int64        `json:"disk_size_mb"`
	StepTimeoutSec int64        `json:"step_timeout_sec"`
	Error          string       `json:"error,omitempty"`
	TemplateID     string       `json:"template_id,omitempty"`
	SizeBytes      int64        `json:"size_bytes"`
	NodeID         string       `json:"node_id,omitempty"`
	SandboxID      string       `json:"sandbox_id,omitempty"`
	CreatedAt      time.Time    `json:"created_at"`
	StartedAt      *time.Time   `json:"started_at,omitempty"`
	FinishedAt     *time.Time   `json:"finished_at,omitempty"`
	Logs           []BuildLog   `json:"logs,omitempty"`
}

// Done reports whether the build has ended (succeeded, failed or cancelled).
func (b Build) Done() bool {
	return b.Status == BuildSucceeded || b.Status == BuildFailed || b.Status == BuildCancelled
}

// CreateBuild queues a build (admin).
func (c *Client) CreateBuild(ctx context.Context, req CreateBuild) (Build, error) {
	var b Build
	return b, c.do(ctx, http.MethodPost, "/v1/admin/builds", nil, req, &b)
}

// ListBuildsOptions filter and page the build list.
type ListBuildsOptions struct {
	Status string
	Cursor string
	Limit  int
}

// ListBuilds returns one page of builds, newest first, without logs (admin).
func (c *Client) ListBuilds(ctx context.Context, opts ListBuildsOptions) (Page[Build], error) {
	q := url.Values{}
	if opts.Status != "" {
		q.Set("status", opts.Status)
	}
	if opts.Cursor != "" {
		q.Set("cursor", opts.Cursor)
	}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	var p Page[Build]
	return p, c.do(ctx, http.MethodGet, "/v1/admin/builds", q, nil, &p)
}

// Builds iterates over every build matching opts.
func (c *Client) Builds(ctx context.Context, opts ListBuildsOptions) iter.Seq2[Build, error] {
	return paginate(func(cursor string) (Page[Build], error) {
		o := opts
		o.Cursor = cursor
		return c.ListBuilds(ctx, o)
	}, opts.Cursor)
}

// GetBuild returns a build with its logs (admin).
func (c *Client) GetBuild(ctx context.Context, id string) (Build, error) {
	var b Build
	return b, c.do(ctx, http.MethodGet, "/v1/admin/builds/"+seg(id), nil, nil, &b)
}

// CancelBuild cancels a queued or running build (admin).
func (c *Client) CancelBuild(ctx context.Context, id string) (Build, error) {
	var b Build
	return b, c.do(ctx, http.MethodPost, "/v1/admin/builds/"+seg(id)+"/cancel", nil, nil, &b)
}

// FollowOptions tune FollowBuild. Interval defaults to 1s. OnProgress sees
// every poll's build (status, current_step of total_steps); OnLog sees each
// step's log entry once, in order.
type FollowOptions struct {
	Interval   time.Duration
	OnProgress func(Build)
	OnLog      func(BuildLog)
}

// ErrBuildFailed is wrapped by FollowBuild's error when the build ended
// failed or cancelled.
var ErrBuildFailed = errors.New("build did not succeed")

// FollowBuild polls the build until it ends, reporting progress and new log
// entries, and returns its final state. A failed or cancelled build returns
// the build and an error wrapping ErrBuildFailed with the build's error.
// Transient errors (unavailable, rate limited) are retried.
func (c *Client) FollowBuild(ctx context.Context, id string, opts FollowOptions) (Build, error) {
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	seen := 0
	for {
		b, err := c.GetBuild(ctx, id)
		switch {
		case err == nil:
			if opts.OnLog != nil {
				for ; seen < len(b.Logs); seen++ {
					opts.OnLog(b.Logs[seen])
				}
			}
			if opts.OnProgress != nil {
				opts.OnProgress(b)
			}
			if b.Done() {
				if b.Status != BuildSucceeded {
					msg := b.Error
					if msg == "" {
						msg = b.Status
					}
					return b, fmt.Errorf("build %s %s: %s: %w", b.ID, b.Status, msg, ErrBuildFailed)
				}
				return b, nil
			}
		case IsUnavailable(err):
		default:
			return b, err
		}
		t := time.NewTimer(opts.Interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return b, ctx.Err()
		case <-t.C:
		}
	}
}
