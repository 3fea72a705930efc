package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Error is an answer of the API outside 2xx.
type Error struct {
	Status     int    // HTTP status
	Code       string // stable code: invalid_argument, not_found, conflict, …
	Message    string // the server's message, fit to show as sent
	Field      string // the request field the error is about, if any
	RequestID  string // the request's ID ("req-…"); quote it when reporting a bug
	RetryAfter int    // seconds from Retry-After (429, 503), 0 when absent
}

// Error returns the message; internal errors add the request ID, which is what
// an operator needs to find the cause in the node's log.
func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = fmt.Sprintf("HTTP %d %s", e.Status, http.StatusText(e.Status))
	}
	if e.Code == "internal" || e.Status >= 500 && e.RequestID != "" {
		msg += " (request " + e.RequestID + ")"
	}
	return msg
}

// Category sentinels for errors.Is: errors.Is(err, client.ErrNotFound) holds for
// an *Error with code not_found.
var (
	ErrInvalid          = errors.New("invalid_argument")
	ErrUnauthenticated  = errors.New("unauthenticated")
	ErrPermissionDenied = errors.New("permission_denied")
	ErrNotFound         = errors.New("not_found")
	ErrConflict         = errors.New("conflict")
	ErrTooLarge         = errors.New("payload_too_large")
	ErrRateLimited      = errors.New("rate_limited")
	ErrQuotaExceeded    = errors.New("quota_exceeded") // the team's quota refused a create (429, no Retry-After)
	ErrUnavailable      = errors.New("unavailable")
	ErrInternal         = errors.New("internal")
)

// Is matches the category sentinels by code.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrInvalid, ErrUnauthenticated, ErrPermissionDenied, ErrNotFound, ErrConflict,
		ErrTooLarge, ErrRateLimited, ErrQuotaExceeded, ErrUnavailable, ErrInternal:
		return e.Code == target.Error()
	}
	return false
}

// IsNotFound reports whether err is the API's not_found answer.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// IsConflict reports whether err is a conflict (e.g. a sandbox in the wrong state).
func IsConflict(err error) bool { return errors.Is(err, ErrConflict) }

// IsInvalid reports whether err is an invalid_argument answer.
func IsInvalid(err error) bool { return errors.Is(err, ErrInvalid) }

// IsUnauthenticated reports whether the credentials were missing or wrong.
func IsUnauthenticated(err error) bool { return errors.Is(err, ErrUnauthenticated) }

// IsPermissionDenied reports whether the credentials may not do this.
func IsPermissionDenied(err error) bool { return errors.Is(err, ErrPermissionDenied) }

// IsUnavailable reports whether the service asked to retry later (503, 429).
func IsUnavailable(err error) bool {
	return errors.Is(err, ErrUnavailable) || errors.Is(err, ErrRateLimited)
}

// IsNoRoute reports whether the server does not serve this method and path at
// all (an older node, or a feature not built into it).
func IsNoRoute(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Status == http.StatusMethodNotAllowed || e.Status == http.StatusNotFound && e.Message == "no such route"
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
	RequestID string `json:"request_id"`
}

// parseError reads a non-2xx answer. A body that is not the API's error JSON
// (a proxy in between, a crash) still yields an *Error naming the status.
func parseError(res *http.Response) *Error {
	e := &Error{Status: res.StatusCode, RequestID: res.Header.Get("X-Request-ID")}
	if ra, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil {
		e.RetryAfter = ra
	}
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	var body errorBody
	if json.Unmarshal(raw, &body) == nil && body.Error.Code != "" {
		e.Code, e.Message, e.Field = body.Error.Code, body.Error.Message, body.Error.Field
		if body.RequestID != "" {
			e.RequestID = body.RequestID
		}
		return e
	}
	e.Code = codeFor(res.StatusCode)
	text := strings.TrimSpace(string(raw))
	if len(text) > 200 {
		text = text[:200] + "…"
	}
	e.Message = fmt.Sprintf("HTTP %d %s", res.StatusCode, http.StatusText(res.StatusCode))
	if text != "" {
		e.Message += ": " + text
	}
	return e
}

// codeFor guesses the category of an answer without the API's error body.
func codeFor(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "invalid_argument"
	case http.StatusUnauthorized:
		return "unauthenticated"
	case http.StatusForbidden:
		return "permission_denied"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusConflict:
		return "conflict"
	case http.StatusRequestEntityTooLarge:
		return "payload_too_large"
	case http.StatusTooManyRequests:
		return "rate_limited"
	case http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout:
		return "unavailable"
	}
	return "internal"
}
