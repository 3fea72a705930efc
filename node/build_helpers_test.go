package node_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/node/nodetest"
)

// bclient calls one node's REST API with a key (the bootstrap admin's unless
// changed). The build tests keep their own small client so they do not depend
// on the sandbox tests' helpers.
type bclient struct {
	n   *nodetest.Node
	url string
	key string
}

func newBClient(n *nodetest.Node) *bclient { return &bclient{n: n, url: n.URL, key: n.APIKey} }

// breply is a whole answer.
type breply struct {
	status int
	body   []byte
}

func (r breply) String() string { return fmt.Sprintf("%d %s", r.status, bytes.TrimSpace(r.body)) }

func (r breply) into(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r, err)
	}
}

// call sends body (nil, a string, or a value encoded as JSON).
func (c *bclient) call(t testing.TB, method, path string, body any) breply {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return breply{status: res.StatusCode, body: out}
}

// buildLog is one step's log entry as the API shows it.
type buildLog struct {
	Step      int     `json:"step"`
	Cmd       *string `json:"cmd"`
	Stdout    *string `json:"stdout"`
	Stderr    *string `json:"stderr"`
	ExitCode  *int    `json:"exit_code"`
	StartedAt string  `json:"started_at"`
	ElapsedMS *int64  `json:"elapsed_ms"`
}

// buildJSON is the build object as the API shows it.
type buildJSON struct {
	ID              string          `json:"id"`
	Name            string          `json:"name"`
	Status          string          `json:"status"`
	CurrentStep     int             `json:"current_step"`
	TotalSteps      int             `json:"total_steps"`
	StartCmd        string          `json:"start_cmd"`
	Healthcheck     json.RawMessage `json:"healthcheck"`
	Error           string          `json:"error"`
	CancelRequested bool            `json:"cancel_requested"`
	TemplateID      string          `json:"template_id"`
	SizeBytes       int64           `json:"size_bytes"`
	SandboxID       string          `json:"sandbox_id"`
	CreatedAt       time.Time       `json:"created_at"`
	StartedAt       *time.Time      `json:"started_at"`
	FinishedAt      *time.Time      `json:"finished_at"`
	Logs            []buildLog      `json:"logs"`
}

func (b buildJSON) done() bool {
	return b.Status == "succeeded" || b.Status == "failed" || b.Status == "cancelled"
}

// submit queues a build and fails the test unless the API answers 201.
func (c *bclient) submit(t testing.TB, req map[string]any) buildJSON {
	t.Helper()
	r := c.call(t, "POST", "/v1/admin/builds", req)
	if r.status != http.StatusCreated {
		t.Fatalf("submit %v: %s", req, r)
	}
	var b buildJSON
	r.into(t, &b)
	if b.Status != "queued" || !strings.HasPrefix(b.ID, "bld-") {
		t.Fatalf("submit: %+v", b)
	}
	return b
}

func (c *bclient) build(t testing.TB, id string) buildJSON {
	t.Helper()
	r := c.call(t, "GET", "/v1/admin/builds/"+id, nil)
	if r.status != 200 {
		t.Fatalf("get build %s: %s", id, r)
	}
	var b buildJSON
	r.into(t, &b)
	return b
}

// waitBuild polls build id until pred holds or d passes.
func (c *bclient) waitBuild(t testing.TB, id string, d time.Duration, what string, pred func(buildJSON) bool) buildJSON {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		b := c.build(t, id)
		if pred(b) {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("build %s: not %s after %s: %+v", id, what, d, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// finish waits for build id to end and fails the test unless it ended want.
func (c *bclient) finish(t testing.TB, id, want string, d time.Duration) buildJSON {
	t.Helper()
	b := c.waitBuild(t, id, d, "finished", buildJSON.done)
	if b.Status != want {
		t.Fatalf("build %s ended %s (error %q), want %s; logs %+v", id, b.Status, b.Error, want, b.Logs)
	}
	return b
}

// templateJSON is a template as GET /v1/admin/templates shows it.
type templateJSON struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Platform    bool            `json:"platform"`
	Type        string          `json:"type"`
	SizeBytes   int64           `json:"size_bytes"`
	StartCmd    string          `json:"start_cmd"`
	Healthcheck json.RawMessage `json:"healthcheck"`
	BuildID     string          `json:"build_id"`
	Replicas    int             `json:"replicas"`
}

// templates lists every template by name.
func (c *bclient) templates(t testing.TB) map[string]templateJSON {
	t.Helper()
	r := c.call(t, "GET", "/v1/admin/templates", nil)
	if r.status != 200 {
		t.Fatalf("list templates: %s", r)
	}
	var l struct{ Items []templateJSON }
	r.into(t, &l)
	out := map[string]templateJSON{}
	for _, tpl := range l.Items {
		out[tpl.Name] = tpl
	}
	return out
}

// newSandbox creates a sandbox from template, fails the test unless it is
// running, and kills it when the test ends.
func (c *bclient) newSandbox(t testing.TB, template string) string {
	t.Helper()
	r := c.call(t, "POST", "/v1/sandboxes", map[string]any{"template": template, "disk_size_mb": 1024})
	if r.status != http.StatusCreated {
		t.Fatalf("create a sandbox from %s: %s", template, r)
	}
	var sb struct{ ID, Status string }
	r.into(t, &sb)
	if sb.Status != "running" {
		t.Fatalf("create a sandbox from %s: %+v", template, sb)
	}
	t.Cleanup(func() { c.call(t, "DELETE", "/v1/sandboxes/"+sb.ID, nil) })
	return sb.ID
}

// sh runs cmd in sandbox sb and returns exit code, stdout and stderr.
func (c *bclient) sh(t testing.TB, sb, cmd string) (int, string, string) {
	t.Helper()
	r := c.call(t, "POST", "/v1/sandboxes/"+sb+"/exec", map[string]any{"cmd": cmd, "timeout_sec": 30})
	if r.status != 200 {
		t.Fatalf("exec %q in %s: %s", cmd, sb, r)
	}
	var res struct {
		Stdout, Stderr string
		ExitCode       int `json:"exit_code"`
	}
	r.into(t, &res)
	return res.ExitCode, res.Stdout, res.Stderr
}
