package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/warrenhq/warren/sandbox/timing"
)

// APIError is an error answer of the REST API.
type APIError struct {
	Status     int
	Code       string
	Message    string
	Field      string
	RetryAfter string
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("HTTP %d %s: %s", e.Status, e.Code, e.Message)
	if e.Field != "" {
		msg += " (field " + e.Field + ")"
	}
	return msg
}

// statusOf returns the HTTP status of an APIError in err's chain, or 0.
func statusOf(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// client is the slice of the REST API the bench needs.
type client struct {
	base string
	key  string
	http *http.Client
}

func newClient(baseURL, apiKey string, conns int) (*client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("bench: --url %q must be an http:// or https:// URL with a host", baseURL)
	}
	if apiKey == "" {
		return nil, errors.New("bench: --api-key (or WARREN_API_KEY, or --bootstrap) is required")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = conns * 2
	tr.MaxIdleConnsPerHost = conns * 2
	return &client{base: strings.TrimRight(baseURL, "/"), key: apiKey, http: &http.Client{Transport: tr}}, nil
}

func (c *client) close() { c.http.CloseIdleConnections() }

// do sends a JSON request and decodes a JSON answer into out (when non-nil).
func (c *client) do(ctx context.Context, method, path string, body, out any) error {
	_, err := c.doHeader(ctx, method, path, body, out, nil)
	return err
}

// doHeader is do with extra request headers; it returns the answer's headers.
func (c *client) doHeader(ctx context.Context, method, path string, body, out any, hdr http.Header) (http.Header, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode >= 300 {
		var eb struct {
			Error struct{ Code, Message, Field string }
		}
		raw, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
		ae := &APIError{Status: res.StatusCode, RetryAfter: res.Header.Get("Retry-After")}
		if json.Unmarshal(raw, &eb) == nil && eb.Error.Code != "" {
			ae.Code, ae.Message, ae.Field = eb.Error.Code, eb.Error.Message, eb.Error.Field
		} else {
			ae.Code, ae.Message = "unknown", strings.TrimSpace(string(raw))
		}
		return nil, ae
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, res.Body)
		return res.Header, nil
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		return res.Header, fmt.Errorf("decoding the answer of %s %s: %w", method, path, err)
	}
	return res.Header, nil
}

// sandbox is the part of the sandbox object the bench reads.
type sandbox struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
	// phases is where the node says the create spent its time (its
	// Server-Timing answer); empty from nodes that do not record them.
	phases map[string]time.Duration
}

type createRequest struct {
	Template   string            `json:"template"`
	MemoryMB   int64             `json:"memory_mb,omitempty"`
	DiskSizeMB int64             `json:"disk_size_mb,omitempty"`
	TimeoutSec int64             `json:"timeout_sec,omitempty"`
	Metadata   map[string]string `json:"metadata,omitempty"`
}

type execRequest struct {
	Cmd        string   `json:"cmd"`
	Args       []string `json:"args,omitempty"`
	TimeoutSec int64    `json:"timeout_sec,omitempty"`
}

type execResult struct {
	Stdout     string `json:"stdout"`
	Stderr     string `json:"stderr"`
	ExitCode   int    `json:"exit_code"`
	DurationMS int64  `json:"duration_ms"`
	TimedOut   bool   `json:"timed_out"`
}

func (c *client) create(ctx context.Context, req createRequest) (sandbox, error) {
	var sb sandbox
	res, err := c.doHeader(ctx, http.MethodPost, "/v1/sandboxes", req, &sb, http.Header{timing.Header: {"1"}})
	if res != nil {
		sb.phases = timing.ParseServerTiming(res.Get("Server-Timing"))
	}
	if err != nil {
		return sb, fmt.Errorf("creating a sandbox from %q: %w", req.Template, err)
	}
	return sb, nil
}

func (c *client) exec(ctx context.Context, id string, req execRequest) (execResult, error) {
	var res execResult
	if err := c.do(ctx, http.MethodPost, "/v1/sandboxes/"+id+"/exec", req, &res); err != nil {
		return res, fmt.Errorf("exec in sandbox %s: %w", id, err)
	}
	return res, nil
}

// kill kills sandbox id; one that is gone or already ended counts as killed.
func (c *client) kill(ctx context.Context, id string) error {
	err := c.do(ctx, http.MethodDelete, "/v1/sandboxes/"+id, nil, nil)
	if s := statusOf(err); s == http.StatusNotFound || s == http.StatusConflict {
		return nil
	}
	if err != nil {
		return fmt.Errorf("killing sandbox %s: %w", id, err)
	}
	return nil
}

// list returns every sandbox in one of states carrying metadata key=value,
// following the cursor through all pages.
func (c *client) list(ctx context.Context, states []string, key, value string) ([]sandbox, error) {
	var all []sandbox
	cursor := ""
	for {
		q := url.Values{"state": {strings.Join(states, ",")}, "limit": {"200"}}
		if key != "" {
			q.Set("metadata", key+"="+value)
		}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var page struct {
			Items      []sandbox `json:"items"`
			NextCursor string    `json:"next_cursor"`
		}
		if err := c.do(ctx, http.MethodGet, "/v1/sandboxes?"+q.Encode(), nil, &page); err != nil {
			return nil, fmt.Errorf("listing sandboxes: %w", err)
		}
		all = append(all, page.Items...)
		if page.NextCursor == "" {
			return all, nil
		}
		cursor = page.NextCursor
	}
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
