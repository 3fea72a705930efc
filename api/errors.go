package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/warrenhq/warren/store"
)

// Error is an answer for the client: an HTTP status, a stable code, a message fit
// to show as sent, and optionally the request field it is about.
type Error struct {
	Status     int
	Code       string
	Message    string
	Field      string
	RetryAfter int // seconds; sets Retry-After when > 0
}

func (e *Error) Error() string { return e.Message }

// Error constructors for the categories clients see.
func errInvalid(field, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	if field != "" {
		msg = field + ": " + msg
	}
	return &Error{Status: http.StatusBadRequest, Code: "invalid_argument", Message: msg, Field: field}
}

func errNotFound(what string) *Error {
	return &Error{Status: http.StatusNotFound, Code: "not_found", Message: what + " not found"}
}

func errConflict(format string, args ...any) *Error {
	return &Error{Status: http.StatusConflict, Code: "conflict", Message: fmt.Sprintf(format, args...)}
}

var (
	errUnauthenticated = &Error{Status: http.StatusUnauthorized, Code: "unauthenticated", Message: "missing or invalid credentials"}
	errForbidden       = &Error{Status: http.StatusForbidden, Code: "permission_denied", Message: "this route needs an admin"}
	errCSRF            = &Error{Status: http.StatusForbidden, Code: "permission_denied", Message: "missing or wrong X-CSRF-Token header for a cookie-authenticated request"}
	errUnavailable     = &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "the service is temporarily unavailable; retry shortly", RetryAfter: 2}
	errInternal        = &Error{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error; quote the request_id when reporting it"}
)

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field,omitempty"`
	} `json:"error"`
	RequestID string `json:"request_id"`
}

// writeError answers with err. An *Error is sent as it is; store categories map to
// their HTTP status; anything else is an internal error whose detail is only logged.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	reqID := RequestID(r.Context())
	var e *Error
	switch {
	case errors.As(err, &e):
	case errors.Is(err, store.ErrUnavailable):
		log.Error("database unavailable", "request_id", reqID, "err", err)
		e = errUnavailable
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; nobody reads the answer.
		e = &Error{Status: 499, Code: "cancelled", Message: "request cancelled"}
	default:
		log.Error("internal error", "request_id", reqID, "method", r.Method, "path", r.URL.Path, "err", err)
		e = errInternal
	}
	var body errorBody
	body.Error.Code, body.Error.Message, body.Error.Field = e.Code, e.Message, e.Field
	body.RequestID = reqID
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	writeJSON(w, e.Status, body)
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// mapStore turns a store error for resource what into a client error when it
// belongs to a client-visible category; otherwise it is returned unchanged.
func mapStore(err error, what string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errNotFound(what)
	case errors.Is(err, store.ErrConflict):
		return errConflict("%s already exists", what)
	}
	return err
}
