package hardening_test

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestEscapeViews reads, from sandbox A, every file under /sys and the /proc
// and /etc files that could name host state (mountinfo, mounts, cgroup,
// cmdline and environ of every process, resolv.conf, hosts) and searches them
// for sandbox B's ID, its UUID, the node's data dir and loop backing-file
// info. Then it tries socket families a sandbox has no use for. Controls: the
// search finds A's own hostname, and B's ID is in the host's
// /sys/block/loop*/loop/backing_file, so a /sys leak would have been found.
func TestEscapeViews(t *testing.T) {
	n, c := startNode(t)
	a := c.create(t, nil)
	b := c.create(t, nil)
	c.upload(t, a, "/probe", probe(t), "0755")

	hostname := strings.TrimSpace(c.mustSh(t, a, "hostname"))
	if got := runProbe(t, c, a, "views-grep", hex.EncodeToString([]byte(hostname))); !strings.HasPrefix(got, "ESCAPED") {
		t.Fatalf("control: the search did not find A's own hostname %q: %s", hostname, got)
	}
	backing, _ := filepath.Glob("/sys/block/loop*/loop/backing_file")
	inHost := false
	for _, f := range backing {
		if body, err := os.ReadFile(f); err == nil && strings.Contains(string(body), b) {
			inHost = true
		}
	}
	if !inHost {
		t.Fatalf("control: B's ID %s is in no host loop backing_file (%d read)", b, len(backing))
	}

	uuid := strings.TrimPrefix(b, "sb-")
	dataDir := filepath.Clean(n.Config.DataDir)
	for _, needle := range []struct{ what, s string }{
		{"sandbox B's ID", b}, {"sandbox B's UUID", uuid}, {"the node's data dir", dataDir},
		{"loop backing_file", "backing_file"}, {"a disk image name", ".img"},
	} {
		got := runProbe(t, c, a, "views-grep", hex.EncodeToString([]byte(needle.s)))
		attack(t, "views", "find "+needle.what+" in /sys, /proc and /etc", strings.HasPrefix(got, "BLOCKED"), got)
	}

	// Control: a family a sandbox needs works.
	if got := runProbe(t, c, a, "socket-family", strconv.Itoa(unix.AF_INET)); !strings.HasPrefix(got, "ESCAPED") {
		t.Fatalf("control: AF_INET socket failed: %s", got)
	}
	eaf := "errno=" + strconv.Itoa(int(unix.EAFNOSUPPORT)) + " "
	for _, f := range []struct {
		name string
		fam  int
	}{{"AF_VSOCK", unix.AF_VSOCK}, {"AF_PACKET", unix.AF_PACKET}, {"AF_ALG", unix.AF_ALG}, {"AF_KEY", unix.AF_KEY}, {"AF_BLUETOOTH", unix.AF_BLUETOOTH}} {
		got := runProbe(t, c, a, "socket-family", strconv.Itoa(f.fam))
		attack(t, "views", "socket("+f.name+")", strings.HasPrefix(got, "BLOCKED "+eaf), got)
	}
}
