package agent

import (
	"context"
	"os"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	agentv1 "github.com/warrenhq/warren/proto/agent/v1"
)

const (
	// maxAttach is how many Attach listeners one process may have at once
	// (the Exec stream that started it is not counted).
	maxAttach = 8
	// listenerQueue is how many output messages may wait for one listener;
	// a full queue holds up the process's output (like a full pipe).
	listenerQueue = 64
	// ptyEOF is what closing a terminal's stdin writes: VEOF (^D) in
	// canonical mode, the terminal's default.
	ptyEOF = "\x04"
)

// session is the stdio of a foreground process: its output, read by pumps
// and fanned out to listeners in order (the Exec stream, Attach streams),
// and its stdin (a pipe, or the terminal in PTY mode), fed through a queue
// by one writer goroutine. The output ends with the exit message, after
// which every listener's channel is closed.
type session struct {
	p   *process
	pty *os.File // the terminal's master side; nil unless PTY mode

	mu        sync.Mutex
	listeners map[*listener]bool // value: counted against maxAttach
	ended     bool               // the exit went out; no new listeners

	stdinMu     sync.Mutex
	stdin       chan []byte // nil when stdin is /dev/null
	stdinClosed bool
}

// listener receives a copy of a session's output. Its reader closes gone
// when it stops reading, so the session never blocks on it after that.
type listener struct {
	ch   chan *agentv1.ExecResponse
	gone chan struct{}
	once sync.Once
}

func (l *listener) stop() { l.once.Do(func() { close(l.gone) }) }

// listen adds a listener. attach counts it against maxAttach; the Exec
// stream's own listener is added before any output exists.
func (ss *session) listen(attach bool) (*listener, error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.ended {
		return nil, status.Errorf(codes.NotFound, "process %d has exited", ss.p.pid)
	}
	if attach {
		n := 0
		for _, counted := range ss.listeners {
			if counted {
				n++
			}
		}
		if n >= maxAttach {
			return nil, status.Errorf(codes.ResourceExhausted, "process %d already has %d attached listeners", ss.p.pid, maxAttach)
		}
	}
	l := &listener{ch: make(chan *agentv1.ExecResponse, listenerQueue), gone: make(chan struct{})}
	ss.listeners[l] = attach
	return l, nil
}

// unlisten removes l; its channel is not closed (the reader has left).
func (ss *session) unlisten(l *listener) {
	l.stop()
	ss.mu.Lock()
	delete(ss.listeners, l)
	ss.mu.Unlock()
}

// broadcast hands m to every listener, waiting for each one that is still
// reading. Only the pumps and finish call it.
func (ss *session) broadcast(m *agentv1.ExecResponse) {
	ss.mu.Lock()
	ls := make([]*listener, 0, len(ss.listeners))
	for l := range ss.listeners {
		ls = append(ls, l)
	}
	ss.mu.Unlock()
	for _, l := range ls {
		select {
		case l.ch <- m:
		case <-l.gone:
		}
	}
}

// pumpMu serialises broadcasts from the stdout and stderr pumps so every
// listener sees the same interleaving.
type pumpMu struct{ sync.Mutex }

// pump reads f until it fails and broadcasts each chunk.
func (ss *session) pump(mu *pumpMu, f *os.File, wrap func([]byte) *agentv1.ExecResponse) {
	for {
		buf := make([]byte, outputChunk)
		n, err := f.Read(buf)
		if n > 0 {
			mu.Lock()
			ss.broadcast(wrap(buf[:n]))
			mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

// run pumps the output files until the process has exited and they are
// drained (bounded by outputDrain), then broadcasts the exit, closes every
// listener and the session's files.
func (ss *session) run(outputs []*os.File, wraps []func([]byte) *agentv1.ExecResponse) {
	var wg sync.WaitGroup
	var mu pumpMu
	for i, f := range outputs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ss.pump(&mu, f, wraps[i])
		}()
	}
	<-ss.p.done
	if ss.pty != nil && !ss.p.keepRunning {
		killSession(ss.p.pid) // its terminal's session is over
	}
	// Children may still hold the output open: bound the wait.
	drain := time.AfterFunc(outputDrain, func() {
		now := time.Now()
		for _, f := range outputs {
			f.SetReadDeadline(now)
		}
	})
	wg.Wait()
	drain.Stop()
	ss.broadcast(&agentv1.ExecResponse{Msg: &agentv1.ExecResponse_Exit{Exit: ss.p.exit}})
	ss.mu.Lock()
	ss.ended = true
	for l := range ss.listeners {
		close(l.ch)
	}
	ss.listeners = nil
	ss.mu.Unlock()
	ss.closeStdin()
	for _, f := range outputs {
		if f != ss.pty {
			f.Close()
		}
	}
	// The terminal closes once the stdin writer is done with it.
}

// startStdin starts the writer of stdin chunks into w, which it closes at
// the end (for a PTY the master, once everything else is done with it).
func (ss *session) startStdin(w *os.File) {
	ss.stdin = make(chan []byte, stdinQueue)
	go func(queue <-chan []byte) {
		broken := false
		for b := range queue {
			if broken {
				continue
			}
			if _, err := w.Write(b); err != nil {
				// EPIPE/EIO: the process closed its stdin; drop the rest.
				broken = true
			}
		}
		w.Close()
	}(ss.stdin)
}

// writeStdin queues b for the process's stdin.
func (ss *session) writeStdin(ctx context.Context, b []byte) error {
	ss.stdinMu.Lock()
	defer ss.stdinMu.Unlock()
	if ss.stdin == nil {
		return status.Errorf(codes.FailedPrecondition, "process %d was started without stdin", ss.p.pid)
	}
	if ss.stdinClosed {
		return status.Errorf(codes.FailedPrecondition, "the stdin of process %d is closed", ss.p.pid)
	}
	if len(b) == 0 {
		return nil
	}
	select {
	case ss.stdin <- b:
		return nil
	case <-ss.p.done:
		return status.Errorf(codes.NotFound, "process %d has exited", ss.p.pid)
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	}
}

// eof ends the process's input: a pipe is closed; a terminal gets its EOF
// character (closing the master would hang it up) and stays writable.
func (ss *session) eof(ctx context.Context) error {
	if ss.pty != nil {
		return ss.writeStdin(ctx, []byte(ptyEOF))
	}
	ss.stdinMu.Lock()
	defer ss.stdinMu.Unlock()
	if ss.stdin == nil {
		return status.Errorf(codes.FailedPrecondition, "process %d was started without stdin", ss.p.pid)
	}
	if !ss.stdinClosed {
		ss.stdinClosed = true
		close(ss.stdin)
	}
	return nil
}

// closeStdin stops the stdin writer for good (the process has exited).
func (ss *session) closeStdin() {
	ss.stdinMu.Lock()
	defer ss.stdinMu.Unlock()
	if ss.stdin != nil && !ss.stdinClosed {
		ss.stdinClosed = true
		close(ss.stdin)
	}
}
