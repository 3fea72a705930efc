package envd

import (
	"context"
	"errors"
	"io"

	"connectrpc.com/connect"
)

// frameInterceptor gives malformed client frames (a streaming request's
// envelope that is truncated, oversized or holds a message that does not
// decode) the code InvalidArgument: connect-go reports some of them as
// Internal "protocol error", which would read as a server fault.
type frameInterceptor struct{}

func (frameInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc { return next }

func (frameInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (frameInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		return next(ctx, frameConn{conn})
	}
}

type frameConn struct{ connect.StreamingHandlerConn }

// Receive maps decoding failures of the client's frames to InvalidArgument.
// The end of the client's stream (io.EOF) and cancellation pass unchanged.
func (c frameConn) Receive(msg any) error {
	err := c.StreamingHandlerConn.Receive(msg)
	if err == nil || errors.Is(err, io.EOF) {
		return err
	}
	var ce *connect.Error
	if errors.As(err, &ce) && (ce.Code() == connect.CodeInternal || ce.Code() == connect.CodeUnknown) {
		return connect.NewError(connect.CodeInvalidArgument, errors.New("malformed request frame: "+ce.Message()))
	}
	return err
}
