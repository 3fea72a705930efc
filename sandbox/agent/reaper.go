package agent

import (
	"log/slog"
	"os"
	"os/signal"
	"sync"

	"golang.org/x/sys/unix"
)

// reaper owns every wait4 call of the agent. Processes are started through
// reaper.start, which forks and registers the pid under mu; reaping and
// dispatching also happen under mu. So a child that exits at once is still
// registered by the time its status is looked up, and a reaped pid cannot be
// reused by a new registration before its status is dispatched.
//
// With all set (the agent is PID 1) it waits for any child: statuses of
// registered pids go to their waiters, orphans re-parented to init are
// reaped and dropped. Otherwise it waits only for registered pids, leaving
// the host process's other children alone.
type reaper struct {
	log  *slog.Logger
	all  bool
	sigc chan os.Signal
	done chan struct{}

	mu      sync.Mutex
	waiters map[int]chan unix.WaitStatus
	orphans int // orphans reaped (PID 1 only); for logs and tests
}

func newReaper(log *slog.Logger, all bool) *reaper {
	r := &reaper{
		log:     log,
		all:     all,
		sigc:    make(chan os.Signal, 1),
		done:    make(chan struct{}),
		waiters: make(map[int]chan unix.WaitStatus),
	}
	// Before any start, so no SIGCHLD is missed.
	signal.Notify(r.sigc, unix.SIGCHLD)
	go r.loop()
	return r
}

// start runs fork (which must start exactly one child and return its pid)
// and registers the pid. The returned channel receives its wait status.
func (r *reaper) start(fork func() (int, error)) (int, <-chan unix.WaitStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	pid, err := fork()
	if err != nil {
		return 0, nil, err
	}
	ch := make(chan unix.WaitStatus, 1)
	r.waiters[pid] = ch
	return pid, ch, nil
}

func (r *reaper) loop() {
	for {
		select {
		case <-r.sigc:
			r.reap()
		case <-r.done:
			return
		}
	}
}

// stop ends the loop. Processes still registered are no longer reaped.
func (r *reaper) stop() {
	signal.Stop(r.sigc)
	close(r.done)
}

func (r *reaper) reap() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.all {
		for {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if err == unix.EINTR {
				continue
			}
			if err != nil || pid <= 0 {
				return
			}
			r.dispatch(pid, ws)
		}
	}
	for pid := range r.waiters {
		var ws unix.WaitStatus
		got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		for err == unix.EINTR {
			got, err = unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		}
		switch {
		case got == pid:
			r.dispatch(pid, ws)
		case err == unix.ECHILD:
			// Someone else reaped it; report it as killed rather than hang.
			r.log.Warn("child reaped elsewhere", "pid", pid)
			r.dispatch(pid, unix.WaitStatus(unix.SIGKILL))
		}
	}
}

func (r *reaper) dispatch(pid int, ws unix.WaitStatus) {
	ch, ok := r.waiters[pid]
	if !ok {
		r.orphans++
		r.log.Debug("reaped orphan", "pid", pid, "status", exitCode(ws))
		return
	}
	delete(r.waiters, pid)
	ch <- ws
}

// exitCode is the shell's view of a status: the exit code, or 128+signal.
func exitCode(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}
