package agent

import (
	"os"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	agentv1 "github.com/warrenhq/warren/proto/agent/v1"
)

// maxPtySide bounds a terminal's rows and columns.
const maxPtySide = 4096

func validPtySize(sz *agentv1.PtySize) error {
	if sz == nil {
		return nil
	}
	if sz.Rows == 0 || sz.Cols == 0 || sz.Rows > maxPtySide || sz.Cols > maxPtySide {
		return invalid("pty size %dx%d: rows and cols must be 1..%d", sz.Rows, sz.Cols, maxPtySide)
	}
	return nil
}

// openPTY opens a new pseudo-terminal of the given size from /dev/ptmx. The
// slave side is opened from the master with TIOCGPTPEER, so no /dev/pts path
// is looked up. The master is non-blocking (in the runtime's poller, so
// read deadlines work); the slave is for the child's stdio.
func openPTY(sz *agentv1.PtySize) (master, slave *os.File, err error) {
	m, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, statusErr("open", "/dev/ptmx", err)
	}
	fail := func(op string, err error) (*os.File, *os.File, error) {
		unix.Close(m)
		return nil, nil, statusErr(op, "the pty", err)
	}
	if err := unix.IoctlSetPointerInt(m, unix.TIOCSPTLCK, 0); err != nil {
		return fail("unlock", err)
	}
	if err := setWinsize(m, sz); err != nil {
		return fail("size", err)
	}
	sfd, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(m), uintptr(unix.TIOCGPTPEER), uintptr(unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC))
	if errno != 0 {
		return fail("open the slave of", errno)
	}
	return os.NewFile(uintptr(m), "ptmx"), os.NewFile(sfd, "pts"), nil
}

func setWinsize(fd int, sz *agentv1.PtySize) error {
	return unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(sz.Rows), Col: uint16(sz.Cols)})
}

// resize sets the terminal size of a PTY session. The master's fd is used
// through SyscallConn so it stays non-blocking.
func (ss *session) resize(sz *agentv1.PtySize) error {
	if ss.pty == nil {
		return status.Errorf(codes.FailedPrecondition, "process %d does not run on a pty", ss.p.pid)
	}
	if sz == nil {
		return invalid("size is required")
	}
	if err := validPtySize(sz); err != nil {
		return err
	}
	rc, err := ss.pty.SyscallConn()
	if err != nil {
		return status.Errorf(codes.NotFound, "process %d has exited", ss.p.pid)
	}
	var ioErr error
	if err := rc.Control(func(fd uintptr) { ioErr = setWinsize(int(fd), sz) }); err != nil {
		return status.Errorf(codes.NotFound, "process %d has exited", ss.p.pid)
	}
	return statusErr("resize", "the pty", ioErr)
}
