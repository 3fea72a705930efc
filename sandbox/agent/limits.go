package agent

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// guardedLimits are the resource limits whose lowering would leave the agent
// alive but unable to serve (no descriptors for pipes, no forks, no file
// writes). Sandbox root shares the agent's uid, so prlimit(2) on PID 1 is
// open to it.
var guardedLimits = []struct {
	res  int
	name string
}{
	{unix.RLIMIT_NOFILE, "RLIMIT_NOFILE"}, {unix.RLIMIT_NPROC, "RLIMIT_NPROC"},
	{unix.RLIMIT_FSIZE, "RLIMIT_FSIZE"}, {unix.RLIMIT_AS, "RLIMIT_AS"},
	{unix.RLIMIT_DATA, "RLIMIT_DATA"}, {unix.RLIMIT_STACK, "RLIMIT_STACK"},
	{unix.RLIMIT_CPU, "RLIMIT_CPU"}, {unix.RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK"},
	{unix.RLIMIT_SIGPENDING, "RLIMIT_SIGPENDING"},
}

// guardLimits checks the agent's own resource limits every interval and
// sends an error once one is below what it was at the start: an agent
// someone limited from outside stops, so its sandbox is failed and reported
// by the node instead of staying up and unusable. It ends with ctx.
func guardLimits(ctx context.Context, interval time.Duration) <-chan error {
	start := make([]unix.Rlimit, len(guardedLimits))
	for i, l := range guardedLimits {
		_ = unix.Getrlimit(l.res, &start[i])
	}
	out := make(chan error, 1)
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			for i, l := range guardedLimits {
				var cur unix.Rlimit
				if unix.Getrlimit(l.res, &cur) != nil {
					continue
				}
				if cur.Cur < start[i].Cur || cur.Max < start[i].Max {
					out <- fmt.Errorf("agent: %s was lowered from outside (now %d/%d, was %d/%d)",
						l.name, cur.Cur, cur.Max, start[i].Cur, start[i].Max)
					return
				}
			}
		}
	}()
	return out
}
