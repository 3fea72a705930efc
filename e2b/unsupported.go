package e2b

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

// unsupportedRoute is an E2B path Warren does not serve, answered 501 with
// the reason so that the SDK raises an error that says it.
type unsupportedRoute struct{ method, pattern, why string }

const (
	whyTemplates = "E2B template builds and template management are not supported: build Warren templates with `warren build` or POST /v1/admin/builds, list them with GET /v1/templates; create sandboxes from them by name or ID"
	whySnapshots = "E2B snapshots are not supported through this API: use Warren's POST /v1/sandboxes/{id}/snapshots, which makes a template"
	whyMetrics   = "bulk and team metrics are not served through the E2B API; GET /sandboxes/{sandboxID}/metrics and Warren's GET /v1/sandboxes/{id}/metrics are"
	whyLogs      = "sandbox logs are not served through the E2B API"
	whyVolumes   = "volumes are not supported"
	whySecrets   = "secrets are not supported"
	whyTeams     = "teams are not managed through the E2B API: use Warren's /v1/me and /v1/admin/teams"
	whyFork      = "forking a running sandbox (memory snapshots) is not supported"
	whyNetwork   = "changing a running sandbox's egress rules is not supported; set allow_internet_access when creating it"
)

// unsupported lists every other path of E2B's API (e2b 2.51.0's OpenAPI).
var unsupported = []unsupportedRoute{
	{"GET", "/sandboxes/metrics", whyMetrics},
	{"GET", "/sandboxes/{sandboxID}/logs", whyLogs},
	{"GET", "/v2/sandboxes/{sandboxID}/logs", whyLogs},
	{"POST", "/sandboxes/{sandboxID}/fork", whyFork},
	{"PUT", "/sandboxes/{sandboxID}/network", whyNetwork},
	{"POST", "/sandboxes/{sandboxID}/snapshots", whySnapshots},
	{"GET", "/snapshots", whySnapshots},
	{"GET", "/teams", whyTeams},
	{"GET", "/teams/{teamID}/metrics", whyMetrics},
	{"GET", "/teams/{teamID}/metrics/max", whyMetrics},
	{"GET", "/templates", whyTemplates},
	{"GET", "/templates/{templateID}", whyTemplates},
	{"PATCH", "/templates/{templateID}", whyTemplates},
	{"DELETE", "/templates/{templateID}", whyTemplates},
	{"GET", "/templates/{templateID}/builds/{buildID}/logs", whyTemplates},
	{"GET", "/templates/{templateID}/builds/{buildID}/status", whyTemplates},
	{"POST", "/templates/{templateID}/builds/{buildID}", whyTemplates},
	{"GET", "/templates/{templateID}/files/{hash}", whyTemplates},
	{"GET", "/templates/{templateID}/tags", whyTemplates},
	{"GET", "/templates/aliases/{alias}", whyTemplates},
	{"POST", "/templates/tags", whyTemplates},
	{"DELETE", "/templates/tags", whyTemplates},
	{"GET", "/v2/templates", whyTemplates},
	{"PATCH", "/v2/templates/{templateID}", whyTemplates},
	{"POST", "/v2/templates/{templateID}/builds/{buildID}", whyTemplates},
	{"POST", "/v3/templates", whyTemplates},
	{"GET", "/volumes", whyVolumes},
	{"POST", "/volumes", whyVolumes},
	{"GET", "/volumes/{volumeID}", whyVolumes},
	{"DELETE", "/volumes/{volumeID}", whyVolumes},
	{"GET", "/volumecontent/{volumeID}/*", whyVolumes},
	{"POST", "/volumecontent/{volumeID}/*", whyVolumes},
	{"PUT", "/volumecontent/{volumeID}/*", whyVolumes},
	{"PATCH", "/volumecontent/{volumeID}/*", whyVolumes},
	{"DELETE", "/volumecontent/{volumeID}/*", whyVolumes},
	{"GET", "/secrets", whySecrets},
	{"POST", "/secrets", whySecrets},
	{"GET", "/secrets/{secretID}", whySecrets},
	{"POST", "/secrets/{secretID}", whySecrets},
	{"DELETE", "/secrets/{secretID}", whySecrets},
}

// notImplemented answers 501 with why; on a sandbox's path, only once the
// sandbox is found (another team's or an unknown one is 404, as elsewhere).
func (h *Handler) notImplemented(why string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if chi.URLParam(r, "sandboxID") != "" {
			if _, err := h.liveSandbox(r); err != nil {
				h.writeError(w, r, err)
				return
			}
		}
		h.writeError(w, r, errorf(http.StatusNotImplemented, "%s", why))
	}
}
