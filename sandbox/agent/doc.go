// Package agent is the in-sandbox init and its host-side client.
//
// `warren agent` (Main, Run) runs as PID 1 in every sandbox. It serves the
// gRPC service of proto/agent/v1 on a unix socket the node bound on the host
// and handed over as an inherited fd (Config.ListenFD; the agent listens on it
// itself, so SO_PEERCRED names the agent): Exec (argv or shell, env, cwd, user, timeout,
// stdin, background processes with a tag, PTY mode), ListProcesses, Signal,
// Attach/WriteStdin/Resize for running processes, file calls, directory
// watches (Watch and the polled CreateWatcher trio) and Health.
//
// Processes. Every process the agent starts leads its own process group, so a
// timeout or a cancelled foreground Exec kills the whole group. A PTY process
// leads its own session: signals sent on its Exec stream go to the terminal's
// foreground group, and when a foreground PTY process ends the agent kills
// what is left in its session (pty_session.go). One reaper
// owns every wait4 call of the agent: process starts happen under the
// reaper's lock, which also covers reaping and dispatch, so a status is never
// delivered to the wrong waiter and never stolen. As PID 1 the reaper waits
// for any child (reaping orphans re-parented to it); otherwise it waits only
// for the pids it started, so an agent embedded in another process (tests)
// never touches that process's other children.
//
// Sessions. A foreground process's output is read by pumps and fanned out
// in order to listeners: the Exec stream that started it and up to 8 Attach
// streams; a listener that stops reading is dropped, one that reads slowly
// holds the output up like a full pipe would. Its stdin (a pipe, or the
// terminal in PTY mode, opened from /dev/ptmx with TIOCGPTPEER) is fed by
// one writer from a bounded queue, from the Exec stream or WriteStdin. A
// keep_running process outlives its Exec stream; any other foreground
// process is killed with its group when the stream ends.
//
// Watches. Each is an inotify instance whose watches are placed through an
// fd opened inside the root (/proc/self/fd/N), never a path looked up
// again; recursive ones add directories as they appear. At most 16 watches,
// 1024 buffered events each (past that the watch fails with
// ResourceExhausted rather than drop events silently), 4096 directories
// each; a polled watcher nobody asked for in 10 minutes is removed.
//
// Files. Every path is resolved with openat2(RESOLVE_IN_ROOT) against a
// directory fd of Config.Root, and the final component is handled with *at
// calls relative to its parent, so neither symlinks nor ".." can reach
// outside the root. Writes go to a temporary file in the target directory,
// are fsynced and renamed into place.
//
// Hardening. At start the agent makes itself non-dumpable, so sandbox root
// (without CAP_SYS_PTRACE) cannot ptrace it, read its memory or take its
// descriptors; as PID 1 it stops when one of its resource limits is lowered
// from outside, so its sandbox fails instead of lingering unusable.
//
// Client. Dial returns a Client for the host side; DialPeer also checks the
// peer of every connection (SO_PEERCRED) before use: Exec streams output to
// writers, ExecCollect buffers it (capped, see DefaultOutputLimit),
// WaitHealthy polls Health quickly until the agent answers, and the file
// helpers stream in ChunkSize pieces.
package agent
