// Package client is a typed Go client for Warren's REST API (v1).
//
// Create one with New(baseURL, apiKey) and call its methods; every method takes
// a context. Failures the API answers come back as *Error, which carries the HTTP
// status, the stable code ("not_found", "conflict", …), the message as the server
// sent it, the request field it concerns and the request ID; IsNotFound,
// IsConflict and friends test for the categories through errors.As.
//
// Lists are paged: ListSandboxes returns one page with its NextCursor, and
// Sandboxes iterates over every page. Exec runs a command and returns its
// collected output; ExecStream delivers output chunks as they are produced.
// Files move as streams (Upload from an io.Reader with a progress callback,
// Download to an io.Writer). FollowBuild polls a build and reports progress and
// new log entries until it ends.
//
// The package has no dependency on the server's internals; its request and
// response types mirror the JSON of the API.
package client
