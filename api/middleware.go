package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"
)

type ctxKey int

const (
	reqIDKey ctxKey = iota
	principalKey
)

// RequestID returns the request's ID ("req-…"), set by the middleware.
func RequestID(ctx context.Context) string {
	s, _ := ctx.Value(reqIDKey).(string)
	return s
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "req-" + hex.EncodeToString(b[:])
}

// Middleware is the chain every request passes: a request ID (echoed in
// X-Request-ID), panic recovery answering a generic 500, an access log line, and a
// cap on body size (413 past it).
func Middleware(log *slog.Logger, maxBody int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			reqID := newRequestID()
			w.Header().Set("X-Request-ID", reqID)
			r = r.WithContext(context.WithValue(r.Context(), reqIDKey, reqID))
			if maxBody > 0 {
				if r.ContentLength > maxBody {
					writeError(w, r, log, errTooLarge(maxBody))
					return
				}
				if r.Body != nil {
					r.Body = http.MaxBytesReader(w, r.Body, maxBody)
				}
			}
			sw := &statusWriter{ResponseWriter: w}
			defer func() {
				if p := recover(); p != nil {
					if p == http.ErrAbortHandler {
						panic(p)
					}
					log.Error("panic in handler", "request_id", reqID, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
					if !sw.wrote {
						writeError(sw, r, log, errInternal)
					}
				}
				log.Info("request", "request_id", reqID, "method", r.Method, "path", r.URL.Path,
					"status", sw.status, "bytes", sw.bytes, "ms", time.Since(start).Milliseconds())
			}()
			next.ServeHTTP(sw, r)
		})
	}
}

func errTooLarge(limit int64) *Error {
	return &Error{Status: http.StatusRequestEntityTooLarge, Code: "payload_too_large",
		Message: fmt.Sprintf("request body exceeds %d bytes", limit)}
}

// statusWriter records the status and size of an answer.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Flush lets streaming handlers flush through the wrapper.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap exposes the underlying writer to http.ResponseController (hijacking for
// WebSocket upgrades, deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
