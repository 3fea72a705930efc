package main

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// viewFiles are the /proc and /etc files a sandbox can read that could name
// host paths or other tenants; /proc/*/cmdline and environ and every file
// under /sys are added by views-grep.
var viewFiles = []string{
	"/proc/self/mountinfo", "/proc/1/mountinfo", "/proc/mounts", "/proc/self/cgroup", "/proc/1/cgroup",
	"/proc/sys/kernel/hostname", "/etc/resolv.conf", "/etc/hosts", "/etc/hostname",
}

func init() {
	// views-grep HEXNEEDLE...: reads every file under /sys, the viewFiles and
	// every /proc/<pid>/{cmdline,environ}; ESCAPED names the first file
	// holding a needle, BLOCKED counts the files read. Needles come hex-encoded
	// so that the probe's own cmdline does not hold them.
	attacks["views-grep"] = func(args []string) string {
		var needles [][]byte
		for _, a := range args {
			n, err := hex.DecodeString(a)
			if err != nil || len(n) == 0 {
				return "ERROR needle " + a
			}
			needles = append(needles, n)
		}
		files := append([]string(nil), viewFiles...)
		for _, g := range []string{"/proc/[0-9]*/cmdline", "/proc/[0-9]*/environ"} {
			m, _ := filepath.Glob(g)
			files = append(files, m...)
		}
		_ = filepath.WalkDir("/sys", func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				files = append(files, p)
			}
			return nil
		})
		read := 0
		for _, f := range files {
			b, err := readSome(f)
			if err != nil {
				continue
			}
			read++
			for _, n := range needles {
				if bytes.Contains(b, n) {
					return fmt.Sprintf("ESCAPED %s holds %q", f, n)
				}
			}
		}
		return fmt.Sprintf("BLOCKED no needle in %d files read", read)
	}
	// socket-family N: socket(N, ...) succeeding is ESCAPED; BLOCKED carries
	// the errno's number and text.
	attacks["socket-family"] = func(args []string) string {
		fam, err := strconv.Atoi(args[0])
		if err != nil {
			return "ERROR family " + args[0]
		}
		typ := unix.SOCK_DGRAM
		switch fam {
		case unix.AF_PACKET:
			typ = unix.SOCK_RAW
		case unix.AF_ALG:
			typ = unix.SOCK_SEQPACKET
		case unix.AF_VSOCK:
			typ = unix.SOCK_STREAM
		}
		fd, err := unix.Socket(fam, typ, 0)
		if errno, ok := err.(unix.Errno); ok {
			return fmt.Sprintf("BLOCKED errno=%d %v", int(errno), errno)
		}
		unix.Close(fd)
		return fmt.Sprintf("ESCAPED socket(%d) created", fam)
	}
}

// readSome reads at most 1 MiB of a file without blocking on FIFOs.
func readSome(p string) ([]byte, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	n, err := f.Read(buf)
	if n == 0 && err != nil {
		return nil, err
	}
	return buf[:n], nil
}
