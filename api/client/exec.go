package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// Exec runs a command and returns its collected output (each stream capped at
// 10 MiB by the server; see the Truncated flags). A non-zero exit code is not an
// error.
func (c *Client) Exec(ctx context.Context, sandboxID string, req ExecRequest) (ExecResult, error) {
	var r ExecResult
	return r, c.do(ctx, http.MethodPost, "/v1/sandboxes/"+seg(sandboxID)+"/exec", nil, req, &r)
}

// ExecExit is how a streamed command ended.
type ExecExit struct {
	ExitCode   int   `json:"exit_code"`
	DurationMS int64 `json:"duration_ms"`
	TimedOut   bool  `json:"timed_out"`
}

// ExecHandlers receive a streamed command's output as it is produced. Nil
// handlers drop their stream. A handler's error stops the stream and is
// returned by ExecStream.
type ExecHandlers struct {
	Stdout func(chunk []byte) error
	Stderr func(chunk []byte) error
	Exit   func(ExecExit)
}

// StreamError is a failure the server reported inside an exec stream after
// the stream had started (so it has no HTTP status of its own).
type StreamError struct{ Message string }

func (e *StreamError) Error() string { return e.Message }

type streamEvent struct {
	Type       string `json:"type"`
	Data       []byte `json:"data"`
	ExitCode   *int   `json:"exit_code"`
	DurationMS int64  `json:"duration_ms"`
	TimedOut   bool   `json:"timed_out"`
	Message    string `json:"message"`
}

// ExecStream runs a command and delivers its stdout and stderr chunks to h as
// they arrive, then its exit. It returns the exit (a non-zero code is not an
// error); an error means the command's end is unknown.
func (c *Client) ExecStream(ctx context.Context, sandboxID string, req ExecRequest, h ExecHandlers) (ExecExit, error) {
	path := "/v1/sandboxes/" + seg(sandboxID) + "/exec/stream"
	b, err := json.Marshal(req)
	if err != nil {
		return ExecExit{}, fmt.Errorf("exec %s: %w", sandboxID, err)
	}
	hr, err := c.request(ctx, http.MethodPost, path, nil, bytes.NewReader(b))
	if err != nil {
		return ExecExit{}, err
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Accept", "application/x-ndjson")
	res, err := c.send(hr)
	if err != nil {
		return ExecExit{}, err
	}
	defer res.Body.Close()
	dec := json.NewDecoder(res.Body)
	for {
		var ev streamEvent
		if err := dec.Decode(&ev); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return ExecExit{}, fmt.Errorf("exec %s: the stream ended before the command's exit: %w", sandboxID, err)
		}
		var herr error
		switch ev.Type {
		case "stdout":
			if h.Stdout != nil {
				herr = h.Stdout(ev.Data)
			}
		case "stderr":
			if h.Stderr != nil {
				herr = h.Stderr(ev.Data)
			}
		case "exit":
			ex := ExecExit{DurationMS: ev.DurationMS, TimedOut: ev.TimedOut}
			if ev.ExitCode != nil {
				ex.ExitCode = *ev.ExitCode
			}
			if h.Exit != nil {
				h.Exit(ex)
			}
			return ex, nil
		case "error":
			return ExecExit{}, &StreamError{Message: ev.Message}
		}
		if herr != nil {
			return ExecExit{}, herr
		}
	}
}
