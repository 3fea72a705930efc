package api

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/warrenhq/warren/access"
	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/sandbox/agent"
	"github.com/warrenhq/warren/sandboxes"
	"github.com/warrenhq/warren/store"
	"github.com/warrenhq/warren/store/db"
)

// Config holds the API's settings; defaults come from DefaultConfig.
type Config struct {
	MaxBodyBytes   int64         // JSON bodies (default 1 MiB)
	MaxUploadBytes int64         // raw uploads and proxied bodies (default 20 GiB)
	SessionTTL     time.Duration // login session lifetime (default 24h)
	LoginAttempts  int           // failed logins allowed per email+address per LoginWindow (default 10)
	LoginWindow    time.Duration // default 5 minutes
	SecureCookies  bool          // set the Secure flag on the session cookie (behind TLS)
	ReadyzTimeout  time.Duration // how long /readyz waits for Postgres (default 2s)
	NodeID         string        // shown in /healthz
	NodeVersion    string
	UI             http.Handler // serves the web UI at "/"; nil serves nothing there
	// SandboxDomain is the domain under which <port>-<sandbox id>.<domain>
	// reaches a sandbox's port (default localhost). The API and UI must not
	// be served on a name under it.
	SandboxDomain string
	// Signer mints and checks per-sandbox access tokens and signed port URLs;
	// nil accepts only API keys on sandbox hosts.
	Signer *access.Signer
	// Envd serves E2B's in-sandbox API (49983-<id>.<domain> hosts and
	// requests carrying E2b-Sandbox-Id); nil answers those with 404.
	Envd http.Handler
	// Metrics serves the JSON metrics routes (see metrics.go); nil: none.
	Metrics Metrics
	// Prometheus serves /metrics; MetricsPublic lets it answer without an
	// admin key.
	Prometheus    http.Handler
	MetricsPublic bool

	// E2B serves E2B's control-plane paths (/sandboxes…, /v2/…, /templates…;
	// see e2bPaths) beside this API; nil leaves them to the UI.
	E2B http.Handler

	// Readiness reports, for /readyz, what the node still waits for before
	// it can serve ("" when nothing; answered 503) and what it serves without
	// ("" when nothing; still 200, e.g. no cluster quorum). nil: neither.
	Readiness func() (waitingFor, degraded string)
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		MaxBodyBytes:   1 << 20,
		MaxUploadBytes: 20 << 30,
		SessionTTL:     24 * time.Hour,
		LoginAttempts:  10,
		LoginWindow:    5 * time.Minute,
		ReadyzTimeout:  2 * time.Second,
		SandboxDomain:  "localhost",
	}
}

// Sandboxes is what the API needs of the node's sandbox service.
type Sandboxes interface {
	Create(ctx context.Context, req sandboxes.CreateRequest) (db.Sandbox, error)
	Get(ctx context.Context, team id.TeamID, sb id.SandboxID) (db.Sandbox, error)
	Kill(ctx context.Context, team id.TeamID, sb id.SandboxID) (db.Sandbox, error)
	Pause(ctx context.Context, team id.TeamID, sb id.SandboxID) (db.Sandbox, error)
	Resume(ctx context.Context, team id.TeamID, sb id.SandboxID) (db.Sandbox, error)
	SetTimeout(ctx context.Context, team id.TeamID, sb id.SandboxID, sec int64) (db.Sandbox, error)
	Agent(ctx context.Context, team id.TeamID, sb id.SandboxID) (*agent.Client, error)
	DialPort(ctx context.Context, team id.TeamID, sb id.SandboxID, port int) (net.Conn, error)
	Snapshot(ctx context.Context, images sandboxes.Images, team id.TeamID, sb id.SandboxID, name string) (db.Template, error)
	DeleteTemplate(ctx context.Context, images sandboxes.Images, team id.TeamID, admin bool, tid id.TemplateID) error
	Quotas
}

// Server serves the REST API.
type Server struct {
	cfg       Config
	sandboxes Sandboxes
	builds    Builds
	nodes     Nodes
	images    sandboxes.Images
	store     *store.Store
	log       *slog.Logger
	logins    *limiter
	touched   touchMemo // when each API key's last-used update was last sent
	routes    []route
	openapi   openAPISpec
}

// New builds the API server over st and the node's sandbox service.
func New(cfg Config, st *store.Store, log *slog.Logger, sbs Sandboxes, images sandboxes.Images, builds Builds, nodes Nodes) *Server {
	def := DefaultConfig()
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = def.MaxBodyBytes
	}
	if cfg.MaxUploadBytes <= 0 {
		cfg.MaxUploadBytes = def.MaxUploadBytes
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = def.SessionTTL
	}
	if cfg.LoginAttempts <= 0 {
		cfg.LoginAttempts = def.LoginAttempts
	}
	if cfg.LoginWindow <= 0 {
		cfg.LoginWindow = def.LoginWindow
	}
	if cfg.ReadyzTimeout <= 0 {
		cfg.ReadyzTimeout = def.ReadyzTimeout
	}
	if cfg.SandboxDomain == "" {
		cfg.SandboxDomain = def.SandboxDomain
	}
	cfg.SandboxDomain = strings.ToLower(strings.TrimSuffix(cfg.SandboxDomain, "."))
	if log == nil {
		log = slog.Default()
	}
	s := &Server{cfg: cfg, store: st, log: log, logins: newLimiter(cfg.LoginAttempts, cfg.LoginWindow), sandboxes: sbs, images: images, builds: builds, nodes: nodes}
	s.routes = append(s.routes, s.systemRoutes()...)
	s.routes = append(s.routes, s.authRoutes()...)
	s.routes = append(s.routes, s.teamRoutes()...)
	s.routes = append(s.routes, s.adminRoutes()...)
	s.routes = append(s.routes, s.templateRoutes()...)
	if sbs != nil {
		s.routes = append(s.routes, s.sandboxRoutes()...)
		s.routes = append(s.routes, s.execRoutes()...)
		s.routes = append(s.routes, s.ptyRoutes()...)
		s.routes = append(s.routes, s.fileRoutes()...)
		s.routes = append(s.routes, s.portRoutes()...)
		s.routes = append(s.routes, s.quotaRoutes()...)
	}
	s.routes = append(s.routes, s.metricsRoutes()...)
	if builds != nil {
		s.routes = append(s.routes, s.buildRoutes()...)
	}
	if nodes != nil && sbs != nil {
		s.routes = append(s.routes, s.nodeRoutes()...)
	}
	return s
}

// accessLevel says who may call a route.
type accessLevel int

const (
	public accessLevel = iota // no credentials
	team                      // a team API key or a session
	admin                     // an admin key or an admin user's session
)

// route is one REST endpoint: its handler and its OpenAPI description.
type route struct {
	method, pattern string
	access          accessLevel
	summary         string
	req             any // the JSON body's Go type (a zero value), or nil
	resp            any // the success body's Go type, or nil
	status          int // the success status (default 200)
	query           []param
	rawBody         string // a non-JSON request body's media type (file uploads)
	rawResp         string // a non-JSON answer's media type
	maxBody         int64  // a JSON body limit above Config.MaxBodyBytes, when set
	handler         http.HandlerFunc
}

// param documents a query parameter.
type param struct{ name, desc string }

// Handler returns the HTTP handler for every route. Requests addressed to
// a sandbox (hosts.go) are routed before the API's routes see them.
func (s *Server) Handler() http.Handler {
	// Body limits are per route: JSON bodies are small, uploads are not.
	return Middleware(s.log, 0)(s.hosts(s.router()))
}

// router is the API's routes (and the UI's catch-all).
func (s *Server) router() *chi.Mux {
	r := chi.NewRouter()
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, s.log, &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such route"})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, s.log, &Error{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Message: r.Method + " is not allowed here"})
	})
	r.Get("/v1/openapi.json", s.openAPI)
	for _, rt := range s.routes {
		limit := max(s.cfg.MaxBodyBytes, rt.maxBody)
		if rt.rawBody != "" {
			limit = s.cfg.MaxUploadBytes
		}
		h := limitBody(s, limit, rt.handler)
		switch rt.access {
		case admin:
			h = s.authenticate(s.requireAdmin(h))
		case team:
			h = s.authenticate(h)
		}
		r.Method(rt.method, rt.pattern, h)
	}
	if s.cfg.E2B != nil {
		h := s.e2bOrUI()
		for _, p := range e2bPaths {
			r.Handle(p, h)
		}
	}
	if s.cfg.UI != nil {
		r.Handle("/*", s.cfg.UI)
	}
	return r
}

// e2bPaths are the paths of E2B's control plane (what its SDKs call at their
// apiUrl); none collides with /v1/.
var e2bPaths = []string{"/sandboxes", "/sandboxes/*", "/v2/*", "/v3/*", "/templates", "/templates/*",
	"/snapshots", "/secrets", "/secrets/*", "/volumes", "/volumes/*", "/volumecontent/*", "/teams", "/teams/*"}

// e2bOrUI sends a browser's page load (the UI has pages at /sandboxes and
// /templates) to the UI and everything else to the E2B handler; E2B's SDKs
// always send X-API-KEY and never ask for HTML.
func (s *Server) e2bOrUI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.UI != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead) &&
			r.Header.Get("X-API-Key") == "" && strings.Contains(r.Header.Get("Accept"), "text/html") {
			s.cfg.UI.ServeHTTP(w, r)
			return
		}
		s.cfg.E2B.ServeHTTP(w, r)
	})
}

// limitBody caps a route's request body (413 past it).
func limitBody(s *Server, limit int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit {
			writeError(w, r, s.log, errTooLarge(limit))
			return
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		next.ServeHTTP(w, r)
	})
}
