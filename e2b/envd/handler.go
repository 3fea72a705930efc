package envd

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/warrenhq/warren/id"
	agentv1 "github.com/warrenhq/warren/proto/agent/v1"
	"github.com/warrenhq/warren/proto/e2b/filesystem/filesystempbconnect"
	"github.com/warrenhq/warren/proto/e2b/process/processpbconnect"
	"github.com/warrenhq/warren/sandbox/agent"
	"github.com/warrenhq/warren/sandboxes"
)

// Version is the envd version whose features Handler implements; E2B's
// create answer advertises it as envdVersion, and the SDK picks its code
// paths by it: stdin on request (0.3.0), the default user without an
// Authorization header (0.4.0), CloseStdin (0.5.2), octet-stream uploads
// (0.5.7). File metadata (0.6.2) is not supported, so no later version is
// claimed.
const Version = "0.5.7"

// Header names of the envd protocol.
const (
	HeaderSandboxID   = "E2b-Sandbox-Id"
	HeaderSandboxPort = "E2b-Sandbox-Port"
	HeaderAccessToken = "X-Access-Token"
	headerKeepalive   = "Keepalive-Ping-Interval"
)

// Authorizer returns the team owning sandbox sb when accessToken is its
// access token. A wrong token is an error wrapping ErrDenied (answered
// Unauthenticated); a sandbox that does not exist wraps sandboxes.ErrNotFound
// (answered as not running); any other error is logged and answered as
// internal.
type Authorizer func(ctx context.Context, sb id.SandboxID, accessToken string) (id.TeamID, error)

// ErrDenied is an access token that is not the sandbox's.
var ErrDenied = errors.New("access denied")

// Agents reaches a sandbox's agent, wherever it runs (api.Sandboxes does).
type Agents interface {
	Agent(ctx context.Context, team id.TeamID, sb id.SandboxID) (*agent.Client, error)
}

// Config configures a Handler.
type Config struct {
	Authorize Authorizer
	Agents    Agents
	Logger    *slog.Logger
	// DefaultUser runs commands and owns files when a request names no user.
	DefaultUser string
	// MaxUpload bounds one /files upload (all its files; decompressed).
	MaxUpload int64
	// AccessToken, when set, returns a sandbox's access token, so the
	// signed /files URLs the SDK makes from it can be checked.
	AccessToken func(sb id.SandboxID) string
}

// DefaultConfig returns the defaults; Authorize and Agents must be set.
func DefaultConfig() Config {
	return Config{DefaultUser: "user", MaxUpload: 1 << 30}
}

// Validate reports the first missing or bad field.
func (c Config) Validate() error {
	switch {
	case c.Authorize == nil:
		return errors.New("envd: Authorize is required")
	case c.Agents == nil:
		return errors.New("envd: Agents is required")
	case !validUser(c.DefaultUser):
		return fmt.Errorf("envd: DefaultUser %q is not a valid user name", c.DefaultUser)
	case c.MaxUpload <= 0:
		return fmt.Errorf("envd: MaxUpload must be positive, got %d", c.MaxUpload)
	}
	return nil
}

// Handler serves envd. Build it with New.
type Handler struct {
	cfg      Config
	log      *slog.Logger
	mux      *http.ServeMux
	accounts *accountCache
	noBash   sandboxSet // sandboxes whose template has no /bin/bash
}

var _ http.Handler = (*Handler)(nil)

// New returns a Handler for cfg.
func New(cfg Config) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{cfg: cfg, log: log, mux: http.NewServeMux(), accounts: newAccountCache()}
	opts := []connect.HandlerOption{
		connect.WithReadMaxBytes(maxConnectMessage),
		connect.WithInterceptors(frameInterceptor{}),
	}
	pp, ph := processpbconnect.NewProcessHandler(&processService{h: h}, opts...)
	h.mux.Handle(pp, h.connectAuth(ph))
	fp, fh := filesystempbconnect.NewFilesystemHandler(&filesystemService{h: h}, opts...)
	h.mux.Handle(fp, h.connectAuth(fh))
	h.mux.HandleFunc("GET /files", h.download)
	h.mux.HandleFunc("POST /files", h.upload)
	h.mux.HandleFunc("GET /health", h.health)
	return h, nil
}

// maxConnectMessage bounds one Connect request message.
const maxConnectMessage = 8 << 20

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// call is an authorised request: the sandbox, its team, the user it acts as
// and the sandbox's agent.
type call struct {
	sb    id.SandboxID
	team  id.TeamID
	token string
	user  string
	agent *agent.Client
}

type callKey struct{}

func callFrom(ctx context.Context) *call { return ctx.Value(callKey{}).(*call) }

// authorize checks the sandbox header and the token and reaches the agent.
// user is the request's user ("" for the default).
func (h *Handler) authorize(ctx context.Context, hdr http.Header, token, user string) (*call, error) {
	raw := hdr.Get(HeaderSandboxID)
	if raw == "" {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New(HeaderSandboxID+" header is required"))
	}
	sb, err := id.ParseSandboxID(raw)
	if err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%s header: %q is not a sandbox ID", HeaderSandboxID, raw))
	}
	if p := hdr.Get(HeaderSandboxPort); p != "" && p != "49983" {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%s header: envd serves port 49983, not %q", HeaderSandboxPort, p))
	}
	if token == "" {
		return nil, connect.NewError(connect.CodeUnauthenticated, errors.New(HeaderAccessToken+" header is required"))
	}
	team, err := h.cfg.Authorize(ctx, sb, token)
	switch {
	case errors.Is(err, ErrDenied):
		h.log.DebugContext(ctx, "envd: refused", "sandbox", sb, "err", err)
		return nil, connect.NewError(connect.CodeUnauthenticated, errors.New("invalid access token for this sandbox"))
	case errors.Is(err, sandboxes.ErrNotFound):
		return nil, connect.NewError(connect.CodeUnavailable, fmt.Errorf("sandbox %s is not running", sb))
	case err != nil:
		return nil, connectErr(ctx, h.log, err)
	}
	if user == "" {
		user = h.cfg.DefaultUser
	}
	if !validUser(user) {
		return nil, invalidArg("user %q is not a valid user name", user)
	}
	a, err := h.cfg.Agents.Agent(ctx, team, sb)
	if err != nil {
		return nil, connectErr(ctx, h.log, err)
	}
	return &call{sb: sb, team: team, token: token, user: user, agent: a}, nil
}

var userName = regexp.MustCompile(`^([a-z_][a-z0-9_.-]{0,31}|[0-9]{1,10})$`)

func validUser(u string) bool { return userName.MatchString(u) }

// basicUser returns the user of `Authorization: Basic base64("user:")`.
func basicUser(hdr http.Header) (string, error) {
	v := hdr.Get("Authorization")
	if v == "" {
		return "", nil
	}
	scheme, cred, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return "", invalidArg("Authorization header: want Basic base64(\"user:\")")
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return "", invalidArg("Authorization header: bad base64")
	}
	user, _, _ := strings.Cut(string(b), ":")
	return user, nil
}

// connectAuth authorises a Connect call before connect-go reads its body,
// answering refusals in the request's own protocol (unary or streaming
// envelope, JSON or binary).
func (h *Handler) connectAuth(next http.Handler) http.Handler {
	ew := connect.NewErrorWriter()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, err := basicUser(r.Header)
		var c *call
		if err == nil {
			c, err = h.authorize(r.Context(), r.Header, r.Header.Get(HeaderAccessToken), user)
		}
		if err != nil {
			if ew.IsSupported(r) {
				_ = ew.Write(w, r, err)
			} else {
				h.httpError(w, r, err)
			}
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callKey{}, c)))
	})
}

// keepalive is the interval the client asked for keepalive events on
// streams (Keepalive-Ping-Interval, seconds), 0 for none.
func keepalive(hdr http.Header) time.Duration {
	n, err := strconv.Atoi(hdr.Get(headerKeepalive))
	if err != nil || n <= 0 {
		return 0
	}
	return time.Duration(min(n, 300)) * time.Second
}

// health answers 204 when the sandbox's agent answers.
func (h *Handler) health(w http.ResponseWriter, r *http.Request) {
	c, err := h.authorize(r.Context(), r.Header, r.Header.Get(HeaderAccessToken), "")
	if err != nil {
		h.httpError(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if _, err := c.agent.Raw().Health(ctx, &agentv1.HealthRequest{}); err != nil {
		h.httpError(w, r, connect.NewError(connect.CodeUnavailable, errors.New("the sandbox agent does not answer")))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
