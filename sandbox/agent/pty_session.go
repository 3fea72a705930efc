package agent

import (
	"bytes"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// signalTarget is where a signal sent on the Exec stream goes: for a PTY
// process the terminal's foreground process group (as the terminal's own
// INTR and QUIT keys do, so a signal reaches the job a shell is running),
// otherwise the process itself.
func (ss *session) signalTarget() int {
	if ss.pty == nil {
		return ss.p.pid
	}
	rc, err := ss.pty.SyscallConn()
	if err != nil {
		return ss.p.pid
	}
	pgrp := 0
	_ = rc.Control(func(fd uintptr) {
		if n, err := unix.IoctlGetInt(int(fd), unix.TIOCGPGRP); err == nil {
			pgrp = n
		}
	})
	if pgrp <= 1 {
		return ss.p.pid
	}
	return -pgrp
}

// killSession kills every process left in the terminal session that sid
// led (background jobs of a shell that has exited), so a PTY process that
// ends leaves nothing behind. Killed processes cannot fork, so a few passes
// over /proc find the ones started while the first pass ran.
func killSession(sid int) {
	for range 3 {
		found := false
		ents, err := os.ReadDir("/proc")
		if err != nil {
			return
		}
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid <= 1 {
				continue
			}
			if s, ok := sessionOfPid(pid); ok && s == sid {
				_ = unix.Kill(pid, unix.SIGKILL)
				found = true
			}
		}
		if !found {
			return
		}
	}
}

// sessionOfPid reads the session id of pid from /proc/<pid>/stat (the
// sixth field; the second, the command, is in parentheses and may hold
// spaces).
func sessionOfPid(pid int) (int, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := bytes.Fields(b[i+1:])
	// state, ppid, pgrp, session
	if len(f) < 4 {
		return 0, false
	}
	sid, err := strconv.Atoi(string(f[3]))
	return sid, err == nil
}
