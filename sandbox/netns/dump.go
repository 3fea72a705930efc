package netns

import (
	"errors"
	"time"

	"github.com/vishvananda/netlink"
)

// dumpTries bounds the retries of an interrupted netlink dump.
const dumpTries = 10

// dump runs a netlink dump (a list of links or addresses), again when the
// kernel says it was interrupted: with sandboxes starting and ending beside
// it the host's link table changes during a dump, whose answer is then
// incomplete (netlink.ErrDumpInterrupted; TestCluster once failed a node's
// close on it). After dumpTries interrupted tries the error is returned.
func dump[T any](list func() (T, error)) (T, error) {
	for i := 1; ; i++ {
		v, err := list()
		if !errors.Is(err, netlink.ErrDumpInterrupted) || i == dumpTries {
			return v, err
		}
		time.Sleep(time.Duration(i) * time.Millisecond)
	}
}
