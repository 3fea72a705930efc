package e2b

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/warrenhq/warren/sandbox"
	"github.com/warrenhq/warren/sandboxes"
	"github.com/warrenhq/warren/store"
)

// apiError is an answer for the client in E2B's shape: the HTTP status
// (repeated as "code"), a message fit to show as sent.
type apiError struct {
	status     int
	message    string
	retryAfter int // seconds; sets Retry-After when > 0
}

func (e *apiError) Error() string { return e.message }

func errorf(status int, format string, args ...any) *apiError {
	return &apiError{status: status, message: fmt.Sprintf(format, args...)}
}

func invalid(field, format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, "%s: %s", field, fmt.Sprintf(format, args...))
}

func notFound(sb string) *apiError {
	return errorf(http.StatusNotFound, "sandbox %q not found", trunc(sb))
}

var errUnavailable = &apiError{status: http.StatusServiceUnavailable, message: "the service is temporarily unavailable; retry shortly", retryAfter: 2}

// errorBody is E2B's Error schema.
type errorBody struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// fieldNames maps the service's field names to E2B's.
var fieldNames = map[string]string{"template": "templateID", "timeout_sec": "timeout", "env": "envVars", "metadata": "metadata"}

func e2bField(f string) string {
	head, rest, dotted := strings.Cut(f, ".")
	if n, ok := fieldNames[head]; ok {
		if dotted {
			return n + "." + rest
		}
		return n
	}
	return f
}

// mapError turns service errors into client errors for sandbox sb; others
// are returned unchanged (and answered as internal errors).
func mapError(err error, sb string) error {
	var ae *apiError
	var fe *sandbox.FieldError
	var ce *sandbox.CapacityError
	var ue *sandbox.UnavailableError
	var qe *sandboxes.QuotaError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &qe):
		return &apiError{status: http.StatusTooManyRequests, message: qe.Message}
	case errors.As(err, &fe):
		return invalid(e2bField(fe.Field), "%s", fe.Message)
	case errors.As(err, &ce):
		return &apiError{status: http.StatusTooManyRequests, message: ce.Message, retryAfter: 5}
	case errors.As(err, &ue):
		return &apiError{status: http.StatusServiceUnavailable, message: ue.Message, retryAfter: 2}
	case errors.Is(err, sandbox.ErrNotFound):
		return notFound(sb)
	case errors.Is(err, sandbox.ErrConflict):
		msg := sandbox.ConflictReason(err)
		if msg == "" {
			msg = "the sandbox is not in a state that allows this"
		}
		return errorf(http.StatusConflict, "sandbox %s: %s", sb, msg)
	}
	return err
}

// requestID is the ID Warren's middleware put in X-Request-ID, or a new one
// when the handler runs alone.
func requestID(w http.ResponseWriter) string {
	if v := w.Header().Get("X-Request-ID"); v != "" {
		return v
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	v := "req-" + hex.EncodeToString(b[:])
	w.Header().Set("X-Request-ID", v)
	return v
}

// writeError answers with err: an *apiError as it is, anything else as an
// internal error whose detail is only logged with the request ID.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	reqID := requestID(w)
	var ae *apiError
	switch {
	case errors.As(err, &ae):
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		ae = errorf(499, "request cancelled")
	case errors.Is(err, store.ErrUnavailable):
		h.log.Error("database unavailable", "request_id", reqID, "err", err)
		ae = errUnavailable
	default:
		h.log.Error("internal error", "request_id", reqID, "method", r.Method, "path", r.URL.Path, "err", err)
		ae = errorf(http.StatusInternalServerError, "internal error; quote request ID %s when reporting it", reqID)
	}
	if ae.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(ae.retryAfter))
	}
	writeJSON(w, ae.status, errorBody{Code: ae.status, Message: ae.message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// decode reads one JSON object into v, refusing unknown fields and trailing
// data, with errors naming the field. An empty body leaves v as it is when
// optional, else it is refused.
func decode(r *http.Request, v any, optional bool) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errorf(http.StatusRequestEntityTooLarge, "request body exceeds %d bytes", mbe.Limit)
		}
		return errorf(http.StatusBadRequest, "reading the request body: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if optional {
			return nil
		}
		return errorf(http.StatusBadRequest, "a JSON object body is required")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if dec.More() {
		return errorf(http.StatusBadRequest, "unexpected data after the JSON object")
	}
	return nil
}

func decodeError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return errorf(http.StatusBadRequest, "malformed JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return errorf(http.StatusBadRequest, "the body must be a JSON object")
		}
		return invalid(typ.Field, "must be %s, not %s", typ.Type.String(), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errorf(http.StatusBadRequest, "truncated JSON")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return invalid(trunc(name), "unknown field")
	}
	return errorf(http.StatusBadRequest, "malformed JSON")
}

func trunc(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
