package fsutil

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// FIFREEZE and FITHAW: _IOWR('X', 119, int) and _IOWR('X', 120, int).
const (
	fifreeze = 0xC0045877
	fithaw   = 0xC0045878
)

// Freeze quiesces the filesystem mounted at dir (FIFREEZE): dirty data is
// written and new writes block until Thaw.
func Freeze(dir string) error {
	return fsIoctl(dir, fifreeze, "FIFREEZE")
}

// Thaw undoes Freeze (FITHAW).
func Thaw(dir string) error {
	return fsIoctl(dir, fithaw, "FITHAW")
}

func fsIoctl(dir string, req uint, name string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("%s %s: %w", name, dir, err)
	}
	defer f.Close()
	if err := unix.IoctlSetInt(int(f.Fd()), req, 0); err != nil {
		return fmt.Errorf("%s %s: %w", name, dir, err)
	}
	return nil
}

// Mount is one line of /proc/self/mountinfo.
type Mount struct {
	Major, Minor uint32
	Point        string // mount point, unescaped
	FSType       string
	Source       string
}

// Mounts parses /proc/self/mountinfo.
func Mounts() ([]Mount, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Mount
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// id parent major:minor root point options [optional...] - fstype source super
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, f := range fields {
			if f == "-" {
				sep = i
				break
			}
		}
		if len(fields) < 5 || sep < 0 || sep+2 >= len(fields) {
			continue
		}
		maj, min, ok := strings.Cut(fields[2], ":")
		ma, err1 := strconv.ParseUint(maj, 10, 32)
		mi, err2 := strconv.ParseUint(min, 10, 32)
		if !ok || err1 != nil || err2 != nil {
			continue
		}
		out = append(out, Mount{
			Major: uint32(ma), Minor: uint32(mi),
			Point:  unescape(fields[4]),
			FSType: fields[sep+1], Source: unescape(fields[sep+2]),
		})
	}
	return out, sc.Err()
}

// unescape decodes mountinfo's octal escapes (\040 for a space, ...).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// MountPoints returns where the block device dev is mounted (none when it is not).
func MountPoints(dev string) ([]string, error) {
	var st unix.Stat_t
	if err := unix.Stat(dev, &st); err != nil {
		return nil, fmt.Errorf("stat %s: %w", dev, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return nil, fmt.Errorf("%s: not a block device", dev)
	}
	mounts, err := Mounts()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range mounts {
		if m.Major == unix.Major(st.Rdev) && m.Minor == unix.Minor(st.Rdev) {
			out = append(out, m.Point)
		}
	}
	return out, nil
}
