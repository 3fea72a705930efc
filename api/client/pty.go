package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"

	"github.com/coder/websocket"
)

// PTYOptions describes a terminal session. Zero Cols/Rows mean 80x24; an
// empty Cmd runs the user's login shell.
type PTYOptions struct {
	Cols, Rows int
	Cmd        []string
	User       string
}

// PTY is an open terminal session (GET /v1/sandboxes/{id}/pty). Write sends
// input, Read returns output; Resize and Signal send control messages. The
// session ends with an exit status (Wait) or an error. Read and Write may
// be used from different goroutines.
type PTY struct {
	conn *websocket.Conn
	ctx  context.Context

	mu   sync.Mutex
	pend []byte // output not yet returned by Read
	done bool
	code int
	err  error
}

// PTYExit is how a terminal session's process ended.
type PTYExit struct{ Code int }

// ptyEvent is a server control message.
type ptyEvent struct {
	Type    string `json:"type"`
	Code    *int   `json:"code"`
	Message string `json:"message"`
}

// OpenPTY opens a terminal session in a sandbox. The context bounds the
// whole session: cancelling it ends the session (and the process).
func (c *Client) OpenPTY(ctx context.Context, sandboxID string, opts PTYOptions) (*PTY, error) {
	q := url.Values{}
	if opts.Cols > 0 {
		q.Set("cols", strconv.Itoa(opts.Cols))
	}
	if opts.Rows > 0 {
		q.Set("rows", strconv.Itoa(opts.Rows))
	}
	for _, a := range opts.Cmd {
		q.Add("cmd", a)
	}
	if opts.User != "" {
		q.Set("user", opts.User)
	}
	req, err := c.request(ctx, "GET", "/v1/sandboxes/"+seg(sandboxID)+"/pty", q, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Del("Accept")
	conn, res, err := websocket.Dial(ctx, req.URL.String(), &websocket.DialOptions{HTTPClient: c.http, HTTPHeader: req.Header})
	if err != nil {
		if res != nil && res.StatusCode != http.StatusSwitchingProtocols && res.Body != nil {
			return nil, parseError(res)
		}
		return nil, fmt.Errorf("GET %s: %w", req.URL.Path, err)
	}
	// Output frames are the server's chunks (at most 64 KiB each) plus the
	// control messages; allow some room.
	conn.SetReadLimit(1 << 20)
	return &PTY{conn: conn, ctx: ctx}, nil
}

// Write sends terminal input.
func (p *PTY) Write(b []byte) (int, error) {
	for off := 0; off < len(b); off += 32 << 10 {
		end := min(off+32<<10, len(b))
		if err := p.conn.Write(p.ctx, websocket.MessageBinary, b[off:end]); err != nil {
			return off, p.ended(err)
		}
	}
	return len(b), nil
}

// Read returns terminal output. It returns io.EOF once the process has
// exited (its status is in Wait), or the session's error.
func (p *PTY) Read(b []byte) (int, error) {
	for {
		p.mu.Lock()
		if len(p.pend) > 0 {
			n := copy(b, p.pend)
			p.pend = p.pend[n:]
			p.mu.Unlock()
			return n, nil
		}
		if p.done {
			err := p.err
			p.mu.Unlock()
			if err == nil {
				return 0, io.EOF
			}
			return 0, err
		}
		p.mu.Unlock()
		typ, data, err := p.conn.Read(p.ctx)
		if err != nil {
			p.finish(0, p.ended(err))
			continue
		}
		if typ == websocket.MessageBinary {
			p.mu.Lock()
			p.pend = append(p.pend, data...)
			p.mu.Unlock()
			continue
		}
		var ev ptyEvent
		if err := json.Unmarshal(data, &ev); err != nil {
			p.finish(0, fmt.Errorf("pty: bad control message from the server: %w", err))
			continue
		}
		switch {
		case ev.Type == "exit" && ev.Code != nil:
			p.finish(*ev.Code, nil)
		case ev.Type == "error":
			p.finish(0, &PTYError{Message: ev.Message})
		}
	}
}

// PTYError is the server's error message that ended a session (the sandbox
// was killed or paused, a bad control message, …).
type PTYError struct{ Message string }

func (e *PTYError) Error() string { return "pty: " + e.Message }

func (p *PTY) finish(code int, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.done {
		p.done, p.code, p.err = true, code, err
	}
}

// ended names why the connection ended.
func (p *PTY) ended(err error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done && p.err != nil {
		return p.err
	}
	if p.done {
		return io.EOF
	}
	if s := websocket.CloseStatus(err); s != -1 {
		return fmt.Errorf("pty: the server closed the session (%d)", s)
	}
	return fmt.Errorf("pty: %w", err)
}

// Wait reads (and discards) the rest of the output and returns the exit.
func (p *PTY) Wait() (PTYExit, error) {
	_, err := io.Copy(io.Discard, p)
	if err != nil {
		return PTYExit{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return PTYExit{Code: p.code}, nil
}

// Exit returns the exit status once Read has returned io.EOF.
func (p *PTY) Exit() (PTYExit, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return PTYExit{Code: p.code}, p.done && p.err == nil
}

// Resize changes the terminal's size.
func (p *PTY) Resize(cols, rows int) error {
	return p.control(map[string]any{"type": "resize", "cols": cols, "rows": rows})
}

// Signal sends INT, TERM, KILL, HUP or QUIT to the terminal's foreground job.
func (p *PTY) Signal(name string) error {
	return p.control(map[string]any{"type": "signal", "signal": name})
}

func (p *PTY) control(m map[string]any) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if err := p.conn.Write(p.ctx, websocket.MessageText, b); err != nil {
		return p.ended(err)
	}
	return nil
}

// Close ends the session; the server kills what still runs in it.
func (p *PTY) Close() error {
	err := p.conn.Close(websocket.StatusNormalClosure, "")
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if err == nil || done || websocket.CloseStatus(err) != -1 {
		return nil // it had already ended
	}
	return fmt.Errorf("pty: close: %w", err)
}
