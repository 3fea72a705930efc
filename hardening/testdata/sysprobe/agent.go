package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// Probes against the sandbox's agent (PID 1) and its channel to the node.
func init() {
	// ptrace-child attaches to a child of the probe (same uid, dumpable):
	// the positive control for "ptrace 1".
	attacks["ptrace-child"] = func([]string) string {
		return withChild(func(pid int) error {
			if err := unix.PtraceAttach(pid); err != nil {
				return err
			}
			var ws unix.WaitStatus
			_, _ = unix.Wait4(pid, &ws, unix.WALL, nil)
			return unix.PtraceDetach(pid)
		}, "attached to a child")
	}
	// vm-read <pid|child>: read another process's memory (process_vm_readv).
	// EFAULT still means the access check passed.
	attacks["vm-read"] = func(args []string) string {
		read := func(pid int) error {
			buf := make([]byte, 16)
			local := []unix.Iovec{{Base: &buf[0], Len: uint64(len(buf))}}
			remote := []unix.RemoteIovec{{Base: 0x400000, Len: len(buf)}}
			_, err := unix.ProcessVMReadv(pid, local, remote, 0)
			if errors.Is(err, unix.EFAULT) {
				return nil
			}
			return err
		}
		if args[0] == "child" {
			return withChild(read, "read a child's memory")
		}
		pid, _ := strconv.Atoi(args[0])
		return result(read(pid), "read the memory of pid "+args[0])
	}
	// pidfd-getfd <pid> <fd>: take a copy of another process's descriptor
	// (the agent's listening socket is fd 3 when it starts).
	attacks["pidfd-getfd"] = func(args []string) string {
		pid, _ := strconv.Atoi(args[0])
		target, _ := strconv.Atoi(args[1])
		pfd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			return result(err, "")
		}
		defer unix.Close(pfd)
		fd, err := unix.PidfdGetfd(pfd, target, 0)
		if err == nil {
			unix.Close(fd)
		}
		return result(err, fmt.Sprintf("took fd %d of pid %d", target, pid))
	}
	// prlimit-nofile <pid> <n>: set another process's RLIMIT_NOFILE to n.
	attacks["prlimit-nofile"] = func(args []string) string {
		pid, _ := strconv.Atoi(args[0])
		n, _ := strconv.ParseUint(args[1], 10, 64)
		lim := unix.Rlimit{Cur: n, Max: n}
		return result(unix.Prlimit(pid, unix.RLIMIT_NOFILE, &lim, nil), fmt.Sprintf("set pid %d's fd limit to %d", pid, n))
	}
	// listen-unix <path> <seconds>: serve a unix socket at path (replacing
	// what is there) for that long; ESCAPED when anything connected to it.
	attacks["listen-unix"] = func(args []string) string {
		_ = os.Remove(args[0])
		ln, err := net.Listen("unix", args[0])
		if err != nil {
			return "ERROR " + err.Error()
		}
		defer ln.Close()
		secs, _ := strconv.Atoi(args[1])
		_ = ln.(*net.UnixListener).SetDeadline(time.Now().Add(time.Duration(secs) * time.Second))
		n := 0
		for {
			c, err := ln.Accept()
			if err != nil {
				break
			}
			n++
			c.Close()
		}
		if n > 0 {
			return fmt.Sprintf("ESCAPED %d connections reached the socket at %s", n, args[0])
		}
		return "BLOCKED nothing connected to " + args[0]
	}
	// connect-unix <path>: connect to a unix socket (the control of listen-unix).
	attacks["connect-unix"] = func(args []string) string {
		c, err := net.DialTimeout("unix", args[0], 2*time.Second)
		if err == nil {
			c.Close()
		}
		return result(err, "connected to "+args[0])
	}
	// fds <n>: open n descriptors and hold them for a second; reports how
	// many it got.
	attacks["fds"] = func(args []string) string {
		n, _ := strconv.Atoi(args[0])
		var lim unix.Rlimit
		_ = unix.Getrlimit(unix.RLIMIT_NOFILE, &lim)
		lim.Cur = lim.Max
		_ = unix.Setrlimit(unix.RLIMIT_NOFILE, &lim)
		var fds []int
		var last error
		for len(fds) < n {
			fd, err := unix.Open("/dev/null", unix.O_RDONLY, 0)
			if err != nil {
				last = err
				break
			}
			fds = append(fds, fd)
		}
		// No runtime call that needs a descriptor (time.Sleep may start the
		// poller) while they are all in use.
		_ = unix.Nanosleep(&unix.Timespec{Sec: 1}, nil)
		got := len(fds)
		for _, fd := range fds {
			unix.Close(fd)
		}
		if last != nil {
			return fmt.Sprintf("BLOCKED opened %d descriptors, then %v", got, last)
		}
		return fmt.Sprintf("ESCAPED opened %d descriptors", got)
	}
}

// withChild runs f on a sleeping child of this probe and reports it.
func withChild(f func(pid int) error, what string) string {
	cmd := exec.Command("/bin/sleep", "5")
	if err := cmd.Start(); err != nil {
		return "ERROR " + err.Error()
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	return result(f(cmd.Process.Pid), what)
}
