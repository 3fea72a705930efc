package runc

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// IDFiles are the host's account and subordinate-ID databases that
// CheckIDRanges reads. A file that does not exist counts as empty.
type IDFiles struct {
	SubUID, SubGID, Passwd, Group string
	// Owner is the account (if any) that /etc/subuid and /etc/subgid name as
	// the holder of the sandbox range; its entries are not conflicts.
	Owner string
}

// DefaultIDFiles are the standard paths, with no owner.
func DefaultIDFiles() IDFiles {
	return IDFiles{SubUID: "/etc/subuid", SubGID: "/etc/subgid", Passwd: "/etc/passwd", Group: "/etc/group"}
}

// CheckIDRanges returns an error naming the range and the conflicting entry
// (file, line, entry) when the sandboxes' host uid range overlaps another
// user's subordinate uid range or an existing account's uid, or the gid range
// overlaps another user's subordinate gid range or an existing group's gid.
// Such an overlap would let a sandbox's root own the files, or signal the
// processes, of that account or of another user's containers. nil means no
// conflict.
func CheckIDRanges(uid, gid IDMap, f IDFiles) error {
	if uid.Size == 0 {
		return fmt.Errorf("uid map size is zero: %w", ErrInvalid)
	}
	if gid.Size == 0 {
		return fmt.Errorf("gid map size is zero: %w", ErrInvalid)
	}
	var errs []error
	errs = append(errs, checkSub(f.SubUID, "uid", uid, f.Owner), checkAccounts(f.Passwd, "uid", uid, 2))
	errs = append(errs, checkSub(f.SubGID, "gid", gid, f.Owner), checkAccounts(f.Group, "gid", gid, 2))
	return errors.Join(errs...)
}

func rangeString(m IDMap) string {
	return fmt.Sprintf("%d-%d", m.HostID, uint64(m.HostID)+uint64(m.Size)-1)
}

// overlaps reports whether [start, start+count) meets the map's host range.
func overlaps(m IDMap, start, count uint64) bool {
	lo, hi := uint64(m.HostID), uint64(m.HostID)+uint64(m.Size)
	return count > 0 && start < hi && lo < start+count
}

// checkSub checks name:start:count lines of a subordinate-ID file.
func checkSub(path, kind string, m IDMap, owner string) error {
	var errs []error
	err := eachLine(path, func(n int, line string) error {
		fields := strings.Split(line, ":")
		if len(fields) != 3 {
			return fmt.Errorf("%s:%d: %q is not name:start:count", path, n, line)
		}
		start, err1 := strconv.ParseUint(fields[1], 10, 32)
		count, err2 := strconv.ParseUint(fields[2], 10, 32)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("%s:%d: %q has a bad start or count", path, n, line)
		}
		if fields[0] != owner && overlaps(m, start, count) {
			errs = append(errs, fmt.Errorf("sandbox host %s range %s overlaps the subordinate %s range of %q (%s:%d: %s)",
				kind, rangeString(m), kind, fields[0], path, n, line))
		}
		return nil
	})
	return errors.Join(err, errors.Join(errs...))
}

// checkAccounts checks passwd or group lines (name:x:id:...): the id is field idField.
func checkAccounts(path, kind string, m IDMap, idField int) error {
	var errs []error
	err := eachLine(path, func(n int, line string) error {
		fields := strings.Split(line, ":")
		if len(fields) <= idField {
			return fmt.Errorf("%s:%d: %q has no %s field", path, n, line, kind)
		}
		id, err := strconv.ParseUint(fields[idField], 10, 32)
		if err != nil {
			return fmt.Errorf("%s:%d: %q has a bad %s", path, n, line, kind)
		}
		if overlaps(m, id, 1) {
			errs = append(errs, fmt.Errorf("sandbox host %s range %s holds %s %d of %q (%s:%d)",
				kind, rangeString(m), kind, id, fields[0], path, n))
		}
		return nil
	})
	return errors.Join(err, errors.Join(errs...))
}

// eachLine calls fn for each non-blank, non-comment line (1-based numbers); a
// missing file has no lines.
func eachLine(path string, fn func(n int, line string) error) error {
	if path == "" {
		return nil
	}
	fh, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read id file: %w", err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := fn(n, line); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return nil
}
