package e2b

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/warrenhq/warren/sandboxes"
)

// newSandbox is E2B's NewSandbox / NewSandboxV2 body. Fields Warren cannot
// honour are refused with a 400 naming them rather than ignored.
type newSandbox struct {
	TemplateID      string            `json:"templateID"`
	Timeout         *int64            `json:"timeout"`
	Metadata        map[string]string `json:"metadata"`
	EnvVars         map[string]string `json:"envVars"`
	AutoPause       *bool             `json:"autoPause"`
	AutoPauseMemory *bool             `json:"autoPauseMemory"`
	AutoResume      *struct {
		Enabled bool `json:"enabled"`
	} `json:"autoResume"`
	Secure        *bool           `json:"secure"` // v1; Warren always secures envd
	AllowInternet *bool           `json:"allow_internet_access"`
	Network       *networkConfig  `json:"network"`
	MCP           json.RawMessage `json:"mcp"`
	IAM           json.RawMessage `json:"iam"`
	VolumeMounts  []struct {
		Name string `json:"name"`
		Path string `json:"path"`
	} `json:"volumeMounts"`
}

// networkConfig is E2B's SandboxNetworkConfig. Warren's egress is on or off
// (allow_internet_access); "deny everything" is the one rule it can express.
type networkConfig struct {
	AllowOut           []string        `json:"allowOut"`
	DenyOut            []string        `json:"denyOut"`
	AllowPublicTraffic *bool           `json:"allowPublicTraffic"`
	MaskRequestHost    *string         `json:"maskRequestHost"`
	HTTPSPorts         []int           `json:"httpsPorts"`
	EgressProxy        json.RawMessage `json:"egressProxy"`
	Rules              json.RawMessage `json:"rules"`
}

func present(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && !bytes.Equal(t, []byte("null"))
}

func emptyObject(raw json.RawMessage) bool {
	var m map[string]json.RawMessage
	return !present(raw) || (json.Unmarshal(raw, &m) == nil && len(m) == 0)
}

// request validates q and turns it into the service's request; v1 bodies
// default the timeout to E2B's 15 s, v2 to 300 s.
func (q *newSandbox) request(v2 bool) (sandboxes.CreateRequest, error) {
	var req sandboxes.CreateRequest
	if q.TemplateID == "" {
		return req, invalid("templateID", "is required")
	}
	if err := checkText("templateID", q.TemplateID, 128); err != nil {
		return req, err
	}
	timeout := int64(15)
	if v2 {
		timeout = 300
	}
	if q.Timeout != nil {
		timeout = *q.Timeout
	}
	if timeout < 1 {
		return req, invalid("timeout", "must be at least 1 second, got %d", timeout)
	}
	for k, v := range q.EnvVars {
		if k == "" || strings.ContainsAny(k, "=\x00") || len(k) > 256 || !utf8.ValidString(k) {
			return req, invalid("envVars", "names must be 1-256 bytes of UTF-8 without '=' or NUL")
		}
		if strings.ContainsRune(v, 0) || len(v) > 32<<10 {
			return req, invalid("envVars."+trunc(k), "values must be at most 32 KiB without NUL")
		}
	}
	for k, v := range q.Metadata {
		if k == "" {
			return req, invalid("metadata", "keys must not be empty")
		}
		if err := checkText("metadata key", k, 128); err != nil {
			return req, err
		}
		if err := checkText("metadata."+trunc(k), v, 1024); err != nil {
			return req, err
		}
	}
	if q.AutoPause != nil && *q.AutoPause {
		return req, invalid("autoPause", "pausing on timeout is not supported: Warren kills a sandbox when its timeout passes")
	}
	if q.AutoResume != nil && q.AutoResume.Enabled {
		return req, invalid("autoResume", "resuming on traffic is not supported; resume with Sandbox.connect")
	}
	if present(q.MCP) {
		return req, invalid("mcp", "the MCP gateway is not supported")
	}
	if present(q.IAM) {
		return req, invalid("iam", "workload identity tokens are not supported")
	}
	if len(q.VolumeMounts) > 0 {
		return req, invalid("volumeMounts", "volumes are not supported")
	}
	internet, err := q.internet()
	if err != nil {
		return req, err
	}
	return sandboxes.CreateRequest{Template: q.TemplateID, TimeoutSec: &timeout, Env: q.EnvVars, Metadata: q.Metadata,
		AllowInternet: internet}, nil
}

// internet folds allow_internet_access and the network options into
// Warren's on/off egress, refusing what it cannot express.
func (q *newSandbox) internet() (*bool, error) {
	allow := q.AllowInternet
	n := q.Network
	if n == nil {
		return allow, nil
	}
	if len(n.AllowOut) > 0 {
		return nil, invalid("network.allowOut", "per-destination egress rules are not supported; egress is on or off (allow_internet_access)")
	}
	if len(n.DenyOut) > 0 {
		for _, c := range n.DenyOut {
			if c != "0.0.0.0/0" && c != "::/0" {
				return nil, invalid("network.denyOut", "only \"0.0.0.0/0\" (no internet) is supported, not %q", trunc(c))
			}
		}
		if !slices.Contains(n.DenyOut, "0.0.0.0/0") {
			return nil, invalid("network.denyOut", "\"::/0\" alone is not supported; deny \"0.0.0.0/0\" to turn egress off")
		}
		if allow != nil && *allow {
			return nil, invalid("network.denyOut", "denies all egress but allow_internet_access is true")
		}
		off := false
		allow = &off
	}
	if n.AllowPublicTraffic != nil && *n.AllowPublicTraffic {
		return nil, invalid("network.allowPublicTraffic", "public sandbox URLs are not supported: ports need the access token or a signed URL")
	}
	if n.MaskRequestHost != nil {
		return nil, invalid("network.maskRequestHost", "is not supported")
	}
	if len(n.HTTPSPorts) > 0 {
		return nil, invalid("network.httpsPorts", "is not supported")
	}
	if present(n.EgressProxy) {
		return nil, invalid("network.egressProxy", "is not supported")
	}
	if !emptyObject(n.Rules) {
		return nil, invalid("network.rules", "egress transform rules are not supported")
	}
	return allow, nil
}

// checkText refuses text Postgres cannot store (NUL, invalid UTF-8) and text
// longer than max bytes.
func checkText(field, v string, max int) error {
	if len(v) > max {
		return invalid(trunc(field), "must be at most %d bytes", max)
	}
	if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
		return invalid(trunc(field), "must be UTF-8 text without NUL")
	}
	return nil
}

// create serves POST /v2/sandboxes (v2) and POST /sandboxes: 201 with the
// sandbox once it runs.
func (h *Handler) create(v2 bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var q newSandbox
		if err := decode(r, &q, false); err != nil {
			h.writeError(w, r, err)
			return
		}
		req, err := q.request(v2)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		req.Team = teamFrom(r.Context())
		row, err := h.sandboxes.Create(r.Context(), req)
		if err != nil {
			h.writeError(w, r, mapError(err, ""))
			return
		}
		h.record(w, r, "sandbox.create", row.ID)
		writeJSON(w, http.StatusCreated, h.viewSandbox(row))
	}
}
