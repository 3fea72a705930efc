package api

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/warrenhq/warren/store"
)

// Config holds the API's settings; defaults come from DefaultConfig.
type Config struct {
	MaxBodyBytes  int64         // JSON bodies; file uploads stream past it (default 1 MiB)
	SessionTTL    time.Duration // login session lifetime (default 24h)
	LoginAttempts int           // failed logins allowed per email+address per LoginWindow (default 10)
	LoginWindow   time.Duration // default 5 minutes
	SecureCookies bool          // set the Secure flag on the session cookie (behind TLS)
	ReadyzTimeout time.Duration // how long /readyz waits for Postgres (default 2s)
	NodeID        string        // shown in /healthz
	NodeVersion   string
	UI            http.Handler // serves the web UI at "/"; nil serves nothing there
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		MaxBodyBytes:  1 << 20,
		SessionTTL:    24 * time.Hour,
		LoginAttempts: 10,
		LoginWindow:   5 * time.Minute,
		ReadyzTimeout: 2 * time.Second,
	}
}

// Server serves the REST API.
type Server struct {
	cfg    Config
	store  *store.Store
	log    *slog.Logger
	logins *limiter
	routes []route
}

// New builds the API server over st.
func New(cfg Config, st *store.Store, log *slog.Logger) *Server {
	def := DefaultConfig()
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = def.MaxBodyBytes
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
	if log == nil {
		log = slog.Default()
	}
	s := &Server{cfg: cfg, store: st, log: log, logins: newLimiter(cfg.LoginAttempts, cfg.LoginWindow)}
	s.routes = append(s.routes, s.systemRoutes()...)
	s.routes = append(s.routes, s.authRoutes()...)
	s.routes = append(s.routes, s.teamRoutes()...)
	s.routes = append(s.routes, s.adminRoutes()...)
	s.routes = append(s.routes, s.templateRoutes()...)
	return s
}

// access says who may call a route.
type access int

const (
	public access = iota // no credentials
	team                 // a team API key or a session
	admin                // an admin key or an admin user's session
)

// route is one REST endpoint: its handler and its OpenAPI description.
type route struct {
	method, pattern string
	access          access
	summary         string
	req             any // the JSON body's Go type (a zero value), or nil
	resp            any // the success body's Go type, or nil
	status          int // the success status (default 200)
	query           []param
	rawBody         string // a non-JSON request body's media type (file uploads)
	rawResp         string // a non-JSON answer's media type
	handler         http.HandlerFunc
}

// param documents a query parameter.
type param struct{ name, desc string }

// Handler returns the HTTP handler for every route.
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(Middleware(s.log, s.cfg.MaxBodyBytes))
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, s.log, &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such route"})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, s.log, &Error{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Message: r.Method + " is not allowed here"})
	})
	r.Get("/v1/openapi.json", s.openAPI)
	for _, rt := range s.routes {
		var h http.Handler = rt.handler
		switch rt.access {
		case admin:
			h = s.authenticate(s.requireAdmin(h))
		case team:
			h = s.authenticate(h)
		}
		r.Method(rt.method, rt.pattern, h)
	}
	if s.cfg.UI != nil {
		r.Handle("/*", s.cfg.UI)
	}
	return r
}
