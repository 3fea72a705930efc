package node_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/node/nodetest"
	filesystempb "github.com/warrenhq/warren/proto/e2b/filesystem"
	"github.com/warrenhq/warren/proto/e2b/filesystem/filesystempbconnect"
	processpb "github.com/warrenhq/warren/proto/e2b/process"
	"github.com/warrenhq/warren/proto/e2b/process/processpbconnect"
)

// envdClient speaks E2B's envd protocol to a node as the SDK does: Connect
// with the JSON codec, the sandbox in E2b-Sandbox-Id, the access token in
// X-Access-Token, the user in Authorization: Basic.
type envdClient struct {
	url     string
	headers http.Header
	proc    processpbconnect.ProcessClient
	fs      filesystempbconnect.FilesystemClient
}

func newEnvd(n *nodetest.Node, sb, token, user string) *envdClient {
	h := http.Header{}
	h.Set("E2b-Sandbox-Id", sb)
	h.Set("E2b-Sandbox-Port", "49983")
	h.Set("X-Access-Token", token)
	h.Set("Keepalive-Ping-Interval", "1")
	if user != "" {
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":")))
	}
	opts := []connect.ClientOption{connect.WithProtoJSON(), connect.WithInterceptors(headerInterceptor(h))}
	return &envdClient{
		url:     n.URL,
		headers: h,
		proc:    processpbconnect.NewProcessClient(http.DefaultClient, n.URL, opts...),
		fs:      filesystempbconnect.NewFilesystemClient(http.DefaultClient, n.URL, opts...),
	}
}

func envdToken(t testing.TB, n *nodetest.Node, sb string) string {
	t.Helper()
	sid, err := id.ParseSandboxID(sb)
	if err != nil {
		t.Fatal(err)
	}
	return n.Signer().AccessToken(sid)
}

// headerInterceptor sets fixed headers on every call.
type headerInterceptor http.Header

func (h headerInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		for k, v := range h {
			req.Header()[k] = v
		}
		return next(ctx, req)
	}
}

func (h headerInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		for k, v := range h {
			conn.RequestHeader()[k] = v
		}
		return conn
	}
}

func (h headerInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// procOutput is what a process stream carried.
type procOutput struct {
	pid                 uint32
	stdout, stderr, pty string
	order               []string // "out:<chunk>" / "err:<chunk>" in arrival order
	end                 *processpb.ProcessEvent_EndEvent
	keepalives          int
}

type eventStream interface {
	Receive() bool
	Err() error
}

// readEvents reads events from a Start or Connect stream until the end
// event, or until until(out) holds.
func readEvents(t testing.TB, s eventStream, msg func() *processpb.ProcessEvent, until func(*procOutput) bool) *procOutput {
	t.Helper()
	out := &procOutput{}
	for s.Receive() {
		ev := msg()
		switch e := ev.GetEvent().(type) {
		case *processpb.ProcessEvent_Start:
			out.pid = e.Start.GetPid()
		case *processpb.ProcessEvent_Data:
			d := e.Data
			out.stdout += string(d.GetStdout())
			out.stderr += string(d.GetStderr())
			out.pty += string(d.GetPty())
			if len(d.GetStdout()) > 0 {
				out.order = append(out.order, "out:"+string(d.GetStdout()))
			}
		case *processpb.ProcessEvent_End:
			out.end = e.End
			return out
		case *processpb.ProcessEvent_Keepalive:
			out.keepalives++
		}
		if until != nil && until(out) {
			return out
		}
	}
	if err := s.Err(); err != nil {
		t.Fatalf("process stream: %v (so far %+v)", err, out)
	}
	t.Fatalf("process stream ended without an end event: %+v", out)
	return nil
}

func (c *envdClient) start(t testing.TB, ctx context.Context, req *processpb.StartRequest, until func(*procOutput) bool) (*connect.ServerStreamForClient[processpb.StartResponse], *procOutput) {
	t.Helper()
	s, err := c.proc.Start(ctx, connect.NewRequest(req))
	if err != nil {
		t.Fatal(err)
	}
	return s, readEvents(t, s, func() *processpb.ProcessEvent { return s.Msg().GetEvent() }, until)
}

func shCmd(cmd string) *processpb.ProcessConfig {
	return &processpb.ProcessConfig{Cmd: "/bin/bash", Args: []string{"-l", "-c", cmd}}
}

// run runs cmd as commands.run does and returns its output.
func (c *envdClient) run(t testing.TB, cfg *processpb.ProcessConfig) *procOutput {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, out := c.start(t, ctx, &processpb.StartRequest{Process: cfg}, nil)
	return out
}

func (c *envdClient) stat(t testing.TB, p string) (*filesystempb.EntryInfo, error) {
	t.Helper()
	r, err := c.fs.Stat(context.Background(), connect.NewRequest(&filesystempb.StatRequest{Path: p}))
	if err != nil {
		return nil, err
	}
	return r.Msg.GetEntry(), nil
}

// filesReq is a /files request with the envd headers.
func (c *envdClient) filesReq(t testing.TB, method string, q url.Values, body io.Reader, ct string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, c.url+"/files?"+q.Encode(), body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range c.headers {
		if k != "Authorization" {
			req.Header[k] = v
		}
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, b
}

// upload writes files with a multipart body, as files.write does.
func (c *envdClient) upload(t testing.TB, user string, files map[string][]byte) []map[string]string {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for p, data := range files {
		fw, err := mw.CreateFormFile("file", p)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(data)
	}
	mw.Close()
	q := url.Values{}
	if user != "" {
		q.Set("username", user)
	}
	code, body := c.filesReq(t, "POST", q, &buf, mw.FormDataContentType())
	if code != 200 {
		t.Fatalf("upload: %d %s", code, body)
	}
	var out []map[string]string
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("upload answer %s: %v", body, err)
	}
	return out
}

func (c *envdClient) download(t testing.TB, p string) []byte {
	t.Helper()
	code, body := c.filesReq(t, "GET", url.Values{"path": {p}}, nil, "")
	if code != 200 {
		t.Fatalf("download %s: %d %s", p, code, body)
	}
	return body
}

func wantCode(t testing.TB, what string, err error, code connect.Code) {
	t.Helper()
	if connect.CodeOf(err) != code {
		t.Fatalf("%s: %v, want %s", what, err, code)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
