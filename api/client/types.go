package client

import (
	"encoding/json"
	"time"
)

// Page is one page of a list; NextCursor is empty on the last page.
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// Team is a team.
type Team struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Disabled  bool      `json:"disabled"`
	Role      string    `json:"role,omitempty"` // in Me.Teams: owner or member
	CreatedAt time.Time `json:"created_at"`
}

// User is a user account.
type User struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	IsAdmin   bool      `json:"is_admin"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
}

// APIKey describes a key; its secret is only in CreatedAPIKey.
type APIKey struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	Admin      bool       `json:"admin"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

// CreatedAPIKey is a new key with its secret, shown this once.
type CreatedAPIKey struct {
	APIKey
	Key string `json:"key"`
}

// Me says who the credentials act as.
type Me struct {
	Team      Team    `json:"team"`
	Admin     bool    `json:"admin"`
	User      *User   `json:"user,omitempty"`
	Teams     []Team  `json:"teams,omitempty"`
	APIKey    *APIKey `json:"api_key,omitempty"`
	CSRFToken string  `json:"csrf_token,omitempty"`
}

// Health is the answer of /healthz and /readyz.
type Health struct {
	Status  string `json:"status"`
	Node    string `json:"node,omitempty"`
	Version string `json:"version,omitempty"`
}

// Healthcheck is how a template's start command is judged ready.
type Healthcheck struct {
	Cmd            string `json:"cmd" yaml:"cmd"`
	IntervalSec    int    `json:"interval_sec,omitempty" yaml:"interval_sec"`
	TimeoutSec     int    `json:"timeout_sec,omitempty" yaml:"timeout_sec"`
	Retries        int    `json:"retries,omitempty" yaml:"retries"`
	StartPeriodSec int    `json:"start_period_sec,omitempty" yaml:"start_period_sec"`
}

// Template is an image (built by a recipe) or a snapshot of a sandbox.
type Template struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	TeamID      string          `json:"team_id"`
	Platform    bool            `json:"platform"`
	Type        string          `json:"type"` // image or snapshot
	SizeBytes   int64           `json:"size_bytes"`
	VCPUs       float64         `json:"vcpus"`
	MemoryMB    int64           `json:"memory_mb"`
	StartCmd    string          `json:"start_cmd,omitempty"`
	Healthcheck json.RawMessage `json:"healthcheck,omitempty"`
	BuildID     string          `json:"build_id,omitempty"`
	CreatedAt   time.Time       `json:"created_at"`
	// Set by the admin list only.
	TeamName string `json:"team_name,omitempty"`
	Replicas int    `json:"replicas,omitempty"`
}

// Sandbox statuses.
const (
	StatusCreating = "creating"
	StatusRunning  = "running"
	StatusPaused   = "paused"
	StatusKilled   = "killed"
	StatusExpired  = "expired"
	StatusFailed   = "failed"
	StatusLost     = "lost"
)

// Sandbox is a sandbox.
type Sandbox struct {
	ID                  string            `json:"id"`
	TeamID              string            `json:"team_id"`
	Template            string            `json:"template"`
	TemplateID          string            `json:"template_id,omitempty"`
	Status              string            `json:"status"`
	VCPUs               float64           `json:"vcpus"`
	MemoryMB            int64             `json:"memory_mb"`
	DiskSizeMB          int64             `json:"disk_size_mb"`
	TimeoutSec          int64             `json:"timeout_sec"`
	AllowInternetAccess bool              `json:"allow_internet_access"`
	Metadata            map[string]string `json:"metadata"`
	NodeID              string            `json:"node_id,omitempty"`
	IsBuild             bool              `json:"is_build,omitempty"`
	Error               string            `json:"error,omitempty"`
	CreatedAt           time.Time         `json:"created_at"`
	StartedAt           *time.Time        `json:"started_at,omitempty"`
	ExpiresAt           *time.Time        `json:"expires_at,omitempty"`
	EndedAt             *time.Time        `json:"ended_at,omitempty"`
}

// CreateSandbox is the request to create a sandbox; nil fields take the
// server's defaults.
type CreateSandbox struct {
	Template            string            `json:"template"`
	VCPUs               *float64          `json:"vcpus,omitempty"`
	MemoryMB            *int64            `json:"memory_mb,omitempty"`
	DiskSizeMB          *int64            `json:"disk_size_mb,omitempty"`
	TimeoutSec          *int64            `json:"timeout_sec,omitempty"`
	Env                 map[string]string `json:"env,omitempty"`
	Metadata            map[string]string `json:"metadata,omitempty"`
	AllowInternetAccess *bool             `json:"allow_internet_access,omitempty"`
}

// ExecRequest is a command to run in a sandbox. Cmd alone runs through
// /bin/sh -c; Cmd with Args runs directly.
type ExecRequest struct {
	Cmd        string            `json:"cmd"`
	Args       []string          `json:"args,omitempty"`
	Env        map[string]string `json:"env,omitempty"`
	Cwd        string            `json:"cwd,omitempty"`
	User       string            `json:"user,omitempty"`
	TimeoutSec int64             `json:"timeout_sec,omitempty"`
	Stdin      string            `json:"stdin,omitempty"`
}

// ExecResult is a finished command's outcome.
type ExecResult struct {
	Stdout          string `json:"stdout"`
	Stderr          string `json:"stderr"`
	ExitCode        int    `json:"exit_code"`
	DurationMS      int64  `json:"duration_ms"`
	TimedOut        bool   `json:"timed_out"`
	StdoutTruncated bool   `json:"stdout_truncated,omitempty"`
	StderrTruncated bool   `json:"stderr_truncated,omitempty"`
}

// FileInfo describes a path inside a sandbox.
type FileInfo struct {
	Name       string    `json:"name"`
	Path       string    `json:"path"`
	Type       string    `json:"type"` // file, dir, symlink, other
	Size       int64     `json:"size"`
	Mode       string    `json:"mode"` // octal, e.g. "0644"
	ModTime    time.Time `json:"mtime"`
	LinkTarget string    `json:"link_target,omitempty"`
}
