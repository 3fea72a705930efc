// Package e2b serves E2B's control plane — what the unmodified E2B SDKs call at
// their apiUrl (E2B_API_URL) — over Warren's sandbox service: create (POST
// /v2/sandboxes and the older /sandboxes), get, list (v2 with state, metadata,
// template and start-time filters and X-Next-Token pagination), kill, set
// timeout, refresh, pause, connect and resume. Answers are in E2B's JSON shapes
// and status codes; errors are E2B's {code, message} body. Every other path the
// SDK knows (templates, snapshots, volumes, secrets, fork, logs, metrics,
// network updates) answers a JSON 501 saying why, never a 404 or 405 the SDK
// would misread.
//
// The package holds no business logic and depends on injected parts only: the
// node's sandbox service (Sandboxes), an API-key authenticator (Authenticate,
// Warren's API keys in either form) and the per-sandbox envd access token
// (AccessToken), returned as envdAccessToken for the in-sandbox protocol
// (envd) that another handler serves; creates, kills, pauses and resumes go to
// Warren's audit log (Audit). docs/E2B.md lists every SDK call and what
// Warren does with it.
package e2b
