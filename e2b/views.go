package e2b

import (
	"encoding/json"
	"math"
	"time"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/sandboxes"
	"github.com/warrenhq/warren/store/db"
)

// sandboxView is E2B's Sandbox schema: the answer of create, connect and
// resume.
type sandboxView struct {
	SandboxID          string  `json:"sandboxID"`
	TemplateID         string  `json:"templateID"`
	Alias              string  `json:"alias,omitempty"`
	ClientID           string  `json:"clientID"`
	EnvdVersion        string  `json:"envdVersion"`
	EnvdAccessToken    string  `json:"envdAccessToken"`
	Domain             *string `json:"domain"`
	TrafficAccessToken *string `json:"trafficAccessToken"`
}

// listedView is E2B's ListedSandbox schema.
type listedView struct {
	SandboxID    string            `json:"sandboxID"`
	TemplateID   string            `json:"templateID"`
	Alias        string            `json:"alias,omitempty"`
	ClientID     string            `json:"clientID"`
	CPUCount     int32             `json:"cpuCount"`
	MemoryMB     int32             `json:"memoryMB"`
	DiskSizeMB   int32             `json:"diskSizeMB"`
	EnvdVersion  string            `json:"envdVersion"`
	StartedAt    time.Time         `json:"startedAt"`
	EndAt        time.Time         `json:"endAt"`
	State        string            `json:"state"`
	Metadata     map[string]string `json:"metadata"`
	VolumeMounts []struct{}        `json:"volumeMounts"`
}

// detailView is E2B's SandboxDetail schema: the answer of get.
type detailView struct {
	listedView
	EnvdAccessToken     string        `json:"envdAccessToken"`
	Domain              *string       `json:"domain"`
	AllowInternetAccess bool          `json:"allowInternetAccess"`
	Lifecycle           lifecycleView `json:"lifecycle"`
}

// lifecycleView is E2B's SandboxLifecycle: Warren kills a sandbox whose
// timeout passes and never resumes one by itself.
type lifecycleView struct {
	OnTimeout  string `json:"onTimeout"`
	AutoResume bool   `json:"autoResume"`
}

func (h *Handler) domain() *string {
	if h.cfg.Domain == "" {
		return nil
	}
	d := h.cfg.Domain
	return &d
}

// clientID is E2B's deprecated clientID: the node running the sandbox.
func clientID(row db.Sandbox) string {
	if row.NodeID == nil {
		return ""
	}
	return id.NodeID(*row.NodeID).String()
}

func templateID(row db.Sandbox) string {
	if row.TemplateID == nil {
		return row.TemplateName
	}
	return id.TemplateID(*row.TemplateID).String()
}

// viewSandbox is E2B's Sandbox schema. Warren's ports are private, so the
// traffic access token (sent by clients as e2b-traffic-access-token to
// <port>-<id>.<domain>) is always answered; it is the sandbox's access token.
func (h *Handler) viewSandbox(row db.Sandbox) sandboxView {
	tok := h.token(row.ID, row.TokenGen)
	return sandboxView{SandboxID: row.ID.String(), TemplateID: templateID(row), Alias: row.TemplateName,
		ClientID: clientID(row), EnvdVersion: h.cfg.EnvdVersion, EnvdAccessToken: tok, Domain: h.domain(),
		TrafficAccessToken: &tok}
}

// state is E2B's SandboxState of a live sandbox: running or paused (a
// sandbox still starting shows as running).
func state(row db.Sandbox) string {
	if row.Status == string(sandboxes.StatusPaused) {
		return "paused"
	}
	return "running"
}

func startedAt(row db.Sandbox) time.Time {
	if row.StartedAt != nil {
		return *row.StartedAt
	}
	return row.CreatedAt
}

func (h *Handler) viewListed(row db.Sandbox) listedView {
	v := listedView{SandboxID: row.ID.String(), TemplateID: templateID(row), Alias: row.TemplateName,
		ClientID: clientID(row), CPUCount: int32(math.Max(1, math.Ceil(float64(row.Vcpus)))), MemoryMB: row.MemoryMb,
		DiskSizeMB: row.DiskSizeMb, EnvdVersion: h.cfg.EnvdVersion, StartedAt: startedAt(row), State: state(row),
		Metadata: map[string]string{}, VolumeMounts: []struct{}{}}
	switch {
	case row.ExpiresAt != nil:
		v.EndAt = *row.ExpiresAt
	case row.EndedAt != nil:
		v.EndAt = *row.EndedAt
	default:
		v.EndAt = v.StartedAt.Add(time.Duration(row.TimeoutSec) * time.Second)
	}
	_ = json.Unmarshal(row.Metadata, &v.Metadata)
	return v
}

func (h *Handler) viewDetail(row db.Sandbox) detailView {
	return detailView{listedView: h.viewListed(row), EnvdAccessToken: h.token(row.ID, row.TokenGen), Domain: h.domain(),
		AllowInternetAccess: row.AllowInternetAccess, Lifecycle: lifecycleView{OnTimeout: "kill"}}
}

// live reports whether E2B would still show the sandbox: an ended one
// (killed, expired, failed, lost) is not found.
func live(row db.Sandbox) bool { return sandboxes.Status(row.Status).Live() }
