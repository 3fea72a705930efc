package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// statusErr turns err from an operation on a path or process into a gRPC
// status error whose message names the operation and its subject.
func statusErr(op, subject string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Errorf(codeOf(err), "%s %s: %v", op, subject, cause(err))
}

// cause strips *fs.PathError wrappers, whose path would be a relative name
// or an fd-relative path, not the path the caller asked for.
func cause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func codeOf(err error) codes.Code {
	switch {
	case errors.Is(err, context.Canceled):
		return codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded
	}
	var errno unix.Errno
	if !errors.As(err, &errno) {
		return codes.Internal
	}
	switch errno {
	case unix.ENOENT:
		return codes.NotFound
	case unix.EEXIST:
		return codes.AlreadyExists
	case unix.EACCES, unix.EPERM, unix.EROFS:
		return codes.PermissionDenied
	case unix.ENOTDIR, unix.EISDIR, unix.EINVAL, unix.ENAMETOOLONG, unix.ELOOP, unix.EXDEV:
		return codes.InvalidArgument
	case unix.ENOTEMPTY, unix.EBUSY, unix.ETXTBSY:
		return codes.FailedPrecondition
	case unix.ENOSPC, unix.EDQUOT, unix.EMFILE, unix.ENFILE, unix.EFBIG,
		unix.EAGAIN, unix.ENOMEM: // EAGAIN from fork: the sandbox is at its pids limit
		return codes.ResourceExhausted
	case unix.ESRCH:
		return codes.NotFound
	case unix.ENOSYS:
		return codes.Unimplemented
	}
	return codes.Internal
}

func invalid(format string, args ...any) error {
	return status.Error(codes.InvalidArgument, fmt.Sprintf(format, args...))
}
