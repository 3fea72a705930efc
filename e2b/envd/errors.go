package envd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"connectrpc.com/connect"
	"github.com/warrenhq/warren/sandboxes"
	"google.golang.org/grpc/status"
)

// connectErr turns a sandbox-service or agent error into a Connect error
// fit to show: the agent's statuses keep their code and message (they name
// paths and processes in the sandbox's own terms); anything unexpected is
// logged and answered as a plain internal error.
func connectErr(ctx context.Context, log *slog.Logger, err error) error {
	if err == nil {
		return nil
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce
	}
	var ue *sandboxes.UnavailableError
	switch {
	case errors.As(err, &ue):
		return connect.NewError(connect.CodeUnavailable, errors.New(ue.Message))
	case errors.Is(err, sandboxes.ErrNotFound):
		return connect.NewError(connect.CodeNotFound, errors.New("sandbox not found"))
	case errors.Is(err, sandboxes.ErrConflict):
		// E2B's SDK reads Unavailable as "the sandbox is not running".
		return connect.NewError(connect.CodeUnavailable, errors.New("the sandbox is not running"))
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, errors.New("request cancelled"))
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, errors.New("deadline exceeded"))
	}
	var gs interface{ GRPCStatus() *status.Status }
	if errors.As(err, &gs) {
		st := gs.GRPCStatus()
		code := connect.Code(st.Code())
		switch {
		case code == 0:
		case code == connect.CodeInternal || code == connect.CodeUnknown:
			log.ErrorContext(ctx, "envd: agent internal error", "err", err)
			return connect.NewError(connect.CodeInternal, errors.New("internal error in the sandbox agent"))
		default:
			return connect.NewError(code, errors.New(st.Message()))
		}
	}
	log.ErrorContext(ctx, "envd: internal error", "err", err)
	return connect.NewError(connect.CodeInternal, errors.New("internal error"))
}

func invalidArg(format string, args ...any) error {
	return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf(format, args...))
}

// httpStatus is the HTTP status of a Connect code for the plain HTTP routes,
// as E2B's SDK maps them (400 invalid, 401 auth, 404 missing, 507 no space).
func httpStatus(err *connect.Error) int {
	switch err.Code() {
	case connect.CodeInvalidArgument, connect.CodeFailedPrecondition, connect.CodeOutOfRange:
		return http.StatusBadRequest
	case connect.CodeUnauthenticated:
		return http.StatusUnauthorized
	case connect.CodePermissionDenied:
		return http.StatusForbidden
	case connect.CodeNotFound:
		return http.StatusNotFound
	case connect.CodeAlreadyExists:
		return http.StatusConflict
	case connect.CodeResourceExhausted:
		if m := err.Message(); strings.Contains(m, "no space") || strings.Contains(m, "quota") {
			return http.StatusInsufficientStorage
		}
		return http.StatusTooManyRequests
	case connect.CodeUnavailable:
		return http.StatusBadGateway
	case connect.CodeCanceled:
		return 499
	case connect.CodeDeadlineExceeded:
		return http.StatusGatewayTimeout
	case connect.CodeUnimplemented:
		return http.StatusNotImplemented
	}
	return http.StatusInternalServerError
}
