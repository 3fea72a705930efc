package agent

import (
	"bufio"
	"errors"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// user is a resolved account of the sandbox.
type user struct {
	name   string
	uid    uint32
	gid    uint32
	groups []uint32 // supplementary
	home   string
}

// lookupUser resolves spec (a name or a numeric uid) from the sandbox's
// /etc/passwd and /etc/group. An empty spec is the agent's own user. A
// numeric uid without a passwd entry is accepted with gid = uid, home "/".
func (s *server) lookupUser(spec string) (*user, error) {
	if spec == "" {
		spec = strconv.Itoa(os.Getuid())
	}
	numeric, numErr := strconv.ParseUint(spec, 10, 32)
	var found *user
	err := s.readDB("/etc/passwd", func(f []string) bool {
		if len(f) < 7 {
			return false
		}
		uid, err1 := strconv.ParseUint(f[2], 10, 32)
		gid, err2 := strconv.ParseUint(f[3], 10, 32)
		if err1 != nil || err2 != nil {
			return false
		}
		if f[0] == spec || (numErr == nil && uid == numeric) {
			found = &user{name: f[0], uid: uint32(uid), gid: uint32(gid), home: f[5]}
			return true
		}
		return false
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, statusErr("read", "/etc/passwd", err)
	}
	if found == nil {
		if numErr != nil {
			return nil, status.Errorf(codes.InvalidArgument, "user %q is not in /etc/passwd", spec)
		}
		return &user{name: spec, uid: uint32(numeric), gid: uint32(numeric), home: "/"}, nil
	}
	err = s.readDB("/etc/group", func(f []string) bool {
		if len(f) < 4 {
			return false
		}
		gid, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil || uint32(gid) == found.gid {
			return false
		}
		for _, m := range strings.Split(f[3], ",") {
			if m == found.name {
				found.groups = append(found.groups, uint32(gid))
			}
		}
		return false
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, statusErr("read", "/etc/group", err)
	}
	return found, nil
}

// readDB calls fn with the colon-separated fields of each line of a
// passwd-style file inside the root until fn returns true.
func (s *server) readDB(p string, fn func(fields []string) bool) error {
	fd, err := s.root.open(p, unix.O_RDONLY, 0)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), p)
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, 16<<20))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		if fn(strings.Split(line, ":")) {
			return nil
		}
	}
	return sc.Err()
}
