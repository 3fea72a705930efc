// Package agent is the in-sandbox init and its host-side client.
//
// `warren agent` (Main, Run) runs as PID 1 in every sandbox. It serves the
// gRPC service of proto/agent/v1 on a unix socket in a directory the host
// bind-mounts into the sandbox: Exec (argv or shell, env, cwd, user, timeout,
// stdin, background processes with a tag), ListProcesses, Signal, file calls
// and Health.
//
// Processes. Every process the agent starts leads its own process group, so a
// timeout or a cancelled foreground Exec kills the whole group. One reaper
// owns every wait4 call of the agent: process starts happen under the
// reaper's lock, which also covers reaping and dispatch, so a status is never
// delivered to the wrong waiter and never stolen. As PID 1 the reaper waits
// for any child (reaping orphans re-parented to it); otherwise it waits only
// for the pids it started, so an agent embedded in another process (tests)
// never touches that process's other children.
//
// Files. Every path is resolved with openat2(RESOLVE_IN_ROOT) against a
// directory fd of Config.Root, and the final component is handled with *at
// calls relative to its parent, so neither symlinks nor ".." can reach
// outside the root. Writes go to a temporary file in the target directory,
// are fsynced and renamed into place.
//
// Client. Dial returns a Client for the host side: Exec streams output to
// writers, ExecCollect buffers it (capped, see DefaultOutputLimit),
// WaitHealthy polls Health quickly until the agent answers, and the file
// helpers stream in ChunkSize pieces.
package agent
