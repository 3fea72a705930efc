package e2b

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/sandboxes"
	"github.com/warrenhq/warren/store/db"
)

// DefaultEnvdVersion is the envd version the create answer advertises. The
// SDKs pick code paths by it: ≥ 0.1.0 or they kill the new sandbox, ≥ 0.3.0
// to choose stdin, ≥ 0.4.0 to leave the user to the sandbox's default,
// ≥ 0.5.2 for closeStdin, ≥ 0.5.7 for octet-stream uploads of streams; from
// 0.6.2 on they would send file metadata, which Warren does not keep.
const DefaultEnvdVersion = "0.5.7"

// Config holds the handler's settings; defaults come from DefaultConfig.
type Config struct {
	// Domain is answered as the sandbox's "domain": SDKs without a sandbox
	// URL reach envd at https://49983-<sandboxID>.<Domain>. Empty answers
	// null (the SDK then uses its own E2B_DOMAIN, or E2B_SANDBOX_URL).
	Domain string
	// EnvdVersion is answered as "envdVersion" (default DefaultEnvdVersion).
	EnvdVersion string
	// MaxBodyBytes bounds JSON bodies (default 1 MiB).
	MaxBodyBytes int64
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{EnvdVersion: DefaultEnvdVersion, MaxBodyBytes: 1 << 20}
}

var versionRe = regexp.MustCompile(`^\d+\.\d+\.\d+$`)

// Validate checks the configuration, naming the offending field.
func (c *Config) Validate() error {
	var errs []error
	if !versionRe.MatchString(c.EnvdVersion) {
		errs = append(errs, fmt.Errorf("e2b: EnvdVersion %q is not MAJOR.MINOR.PATCH", c.EnvdVersion))
	}
	if c.MaxBodyBytes < 1024 {
		errs = append(errs, fmt.Errorf("e2b: MaxBodyBytes must be at least 1024, got %d", c.MaxBodyBytes))
	}
	if strings.ContainsAny(c.Domain, "/: ") {
		errs = append(errs, fmt.Errorf("e2b: Domain %q must be a bare host name", c.Domain))
	}
	return errors.Join(errs...)
}

// Sandboxes is what the handler needs of the node's sandbox service. Errors
// are the sandbox package's categories (ErrNotFound for another team's
// sandbox, ErrConflict, FieldError, CapacityError, UnavailableError) or
// store.ErrUnavailable; anything else is internal.
type Sandboxes interface {
	Create(ctx context.Context, req sandboxes.CreateRequest) (db.Sandbox, error)
	Get(ctx context.Context, team id.TeamID, sb id.SandboxID) (db.Sandbox, error)
	List(ctx context.Context, team id.TeamID, req sandboxes.ListRequest) ([]db.Sandbox, error)
	Kill(ctx context.Context, team id.TeamID, sb id.SandboxID) (db.Sandbox, error)
	Pause(ctx context.Context, team id.TeamID, sb id.SandboxID) (db.Sandbox, error)
	Resume(ctx context.Context, team id.TeamID, sb id.SandboxID) (db.Sandbox, error)
	SetTimeout(ctx context.Context, team id.TeamID, sb id.SandboxID, sec int64) (db.Sandbox, error)
}

// Caller is who a request acts as: a team, through one of its API keys.
type Caller struct {
	Team id.TeamID
	Key  id.APIKeyID
}

// Authenticate returns who an API key acts for: an error wrapping
// ErrUnauthenticated when the key does not authenticate; any other error is
// internal (store.ErrUnavailable when the database is down).
type Authenticate func(ctx context.Context, apiKey string) (Caller, error)

// Audit records that caller did action ("sandbox.create", "sandbox.kill",
// "sandbox.pause", "sandbox.resume") on sandbox sb, in the same log as
// Warren's own API; it must not block for long and never fails the request.
type Audit func(requestID string, caller Caller, action string, sb id.SandboxID)

// AccessToken returns sandbox sb's envd access token (X-Access-Token).
type AccessToken func(sb id.SandboxID) string

// ErrUnauthenticated is Authenticate's answer for a bad key.
var ErrUnauthenticated = errors.New("invalid API key")

// Handler serves E2B's control plane.
type Handler struct {
	cfg       Config
	sandboxes Sandboxes
	auth      Authenticate
	token     AccessToken
	audit     Audit
	metrics   Metrics // nil: the metrics route answers 501
	log       *slog.Logger
	mux       http.Handler
}

// New returns a Handler over the given parts; none may be nil but log.
func New(cfg Config, sbs Sandboxes, auth Authenticate, token AccessToken, audit Audit, log *slog.Logger) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if sbs == nil || auth == nil || token == nil || audit == nil {
		return nil, errors.New("e2b: Sandboxes, Authenticate, AccessToken and Audit are required")
	}
	if log == nil {
		log = slog.Default()
	}
	h := &Handler{cfg: cfg, sandboxes: sbs, auth: auth, token: token, audit: audit, log: log}
	h.mux = h.routes()
	return h, nil
}

// ServeHTTP serves one request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func (h *Handler) routes() http.Handler {
	r := chi.NewRouter()
	// Unknown paths and methods answer E2B's JSON error: a 405 would be
	// read by the SDK as an opaque failure.
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		h.writeError(w, r, errorf(http.StatusNotFound, "no such E2B API route: %s %s", r.Method, r.URL.Path))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		h.writeError(w, r, errorf(http.StatusNotFound, "no such E2B API route: %s %s", r.Method, r.URL.Path))
	})
	r.Use(h.limitBody, h.authenticate)
	r.Post("/sandboxes", h.create(false))
	r.Post("/v2/sandboxes", h.create(true))
	r.Get("/sandboxes", h.listV1)
	r.Get("/v2/sandboxes", h.listV2)
	r.Get("/sandboxes/{sandboxID}", h.get)
	r.Delete("/sandboxes/{sandboxID}", h.kill)
	r.Post("/sandboxes/{sandboxID}/timeout", h.setTimeout)
	r.Post("/sandboxes/{sandboxID}/refreshes", h.refresh)
	r.Post("/sandboxes/{sandboxID}/pause", h.pause)
	r.Post("/sandboxes/{sandboxID}/connect", h.connect(false))
	r.Post("/v2/sandboxes/{sandboxID}/connect", h.connect(true))
	r.Post("/sandboxes/{sandboxID}/resume", h.resume)
	r.Get("/sandboxes/{sandboxID}/metrics", h.sandboxMetrics)
	for _, u := range unsupported {
		r.Method(u.method, u.pattern, h.notImplemented(u.why))
	}
	return r
}

type callerKey struct{}

func callerFrom(ctx context.Context) Caller {
	c, _ := ctx.Value(callerKey{}).(Caller)
	return c
}

func teamFrom(ctx context.Context) id.TeamID { return callerFrom(ctx).Team }

// record audits action on sb by the request's caller.
func (h *Handler) record(w http.ResponseWriter, r *http.Request, action string, sb id.SandboxID) {
	h.audit(requestID(w), callerFrom(r.Context()), action, sb)
}

// authenticate resolves X-API-KEY (or "Authorization: Bearer <key>") to a
// team; every route needs one.
func (h *Handler) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := strings.TrimSpace(r.Header.Get("X-API-Key"))
		if key == "" {
			if scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
				key = strings.TrimSpace(tok)
			}
		}
		if key == "" {
			h.writeError(w, r, errorf(http.StatusUnauthorized, "missing API key: send it in X-API-KEY (the SDKs read E2B_API_KEY)"))
			return
		}
		caller, err := h.auth(r.Context(), key)
		if errors.Is(err, ErrUnauthenticated) {
			h.writeError(w, r, errorf(http.StatusUnauthorized, "invalid API key"))
			return
		}
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, caller)))
	})
}

// limitBody caps request bodies at Config.MaxBodyBytes (413 past it).
func (h *Handler) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > h.cfg.MaxBodyBytes {
			h.writeError(w, r, errorf(http.StatusRequestEntityTooLarge, "request body exceeds %d bytes", h.cfg.MaxBodyBytes))
			return
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes)
		}
		next.ServeHTTP(w, r)
	})
}
