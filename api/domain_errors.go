package api

import (
	"errors"
	"net/http"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/warrenhq/warren/sandbox"
	"github.com/warrenhq/warren/sandboxes"
)

// mapDomain turns sandbox-service and agent errors into client errors; others
// are returned unchanged (and answered as internal errors by writeError).
func mapDomain(err error) error {
	if err == nil {
		return nil
	}
	var fe *sandbox.FieldError
	var ce *sandbox.CapacityError
	var ue *sandbox.UnavailableError
	var qe *sandboxes.QuotaError
	switch {
	case errors.As(err, &qe):
		return &Error{Status: http.StatusTooManyRequests, Code: "quota_exceeded", Message: qe.Message}
	case errors.As(err, &ue):
		return &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: ue.Message, RetryAfter: 2}
	case errors.As(err, &fe):
		return errInvalid(fe.Field, "%s", fe.Message)
	case errors.As(err, &ce):
		return &Error{Status: http.StatusTooManyRequests, Code: "capacity", Message: ce.Message, RetryAfter: 5}
	case errors.Is(err, sandbox.ErrNotFound):
		return errNotFound("sandbox")
	case errors.Is(err, sandbox.ErrConflict):
		return &Error{Status: http.StatusConflict, Code: "conflict", Message: conflictMessage(err)}
	}
	// The agent answers with gRPC statuses whose messages name the path or
	// process in the sandbox's own terms; they are safe to show.
	var gs interface{ GRPCStatus() *status.Status }
	if errors.As(err, &gs) {
		st := gs.GRPCStatus()
		msg := st.Message()
		switch st.Code() {
		case codes.NotFound:
			return &Error{Status: http.StatusNotFound, Code: "not_found", Message: msg}
		case codes.InvalidArgument, codes.OutOfRange:
			return &Error{Status: http.StatusBadRequest, Code: "invalid_argument", Message: msg}
		case codes.AlreadyExists, codes.FailedPrecondition:
			return &Error{Status: http.StatusConflict, Code: "conflict", Message: msg}
		case codes.PermissionDenied:
			return &Error{Status: http.StatusForbidden, Code: "permission_denied", Message: msg}
		case codes.ResourceExhausted:
			if strings.Contains(msg, "no space") || strings.Contains(msg, "quota") || strings.Contains(msg, "too large") {
				return &Error{Status: http.StatusInsufficientStorage, Code: "resource_exhausted", Message: msg}
			}
			// Process, memory or file limits of the sandbox: retry once it has
			// room again.
			return &Error{Status: http.StatusTooManyRequests, Code: "resource_exhausted", Message: msg, RetryAfter: 1}
		case codes.Unavailable:
			return &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "the sandbox's agent is not answering", RetryAfter: 1}
		}
	}
	return err
}

// conflictMessage keeps the part of a conflict error after the sandbox ID,
// which is written for users ("… it is paused").
func conflictMessage(err error) string {
	if msg := sandbox.ConflictReason(err); msg != "" {
		return msg
	}
	return "the sandbox is not in a state that allows this"
}
