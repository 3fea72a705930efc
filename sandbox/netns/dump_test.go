package netns

import (
	"errors"
	"testing"

	"github.com/vishvananda/netlink"
)

func TestDumpRetriesInterrupted(t *testing.T) {
	calls := 0
	v, err := dump(func() (int, error) {
		calls++
		if calls < 3 {
			return -1, netlink.ErrDumpInterrupted
		}
		return 7, nil
	})
	if v != 7 || err != nil || calls != 3 {
		t.Fatalf("dump: %d, %v after %d calls; want 7, nil after 3", v, err, calls)
	}
	calls = 0
	_, err = dump(func() (int, error) { calls++; return 0, netlink.ErrDumpInterrupted })
	if !errors.Is(err, netlink.ErrDumpInterrupted) || calls != dumpTries {
		t.Fatalf("always interrupted: %v after %d calls; want ErrDumpInterrupted after %d", err, calls, dumpTries)
	}
	other := errors.New("boom")
	calls = 0
	if _, err = dump(func() (int, error) { calls++; return 0, other }); err != other || calls != 1 {
		t.Fatalf("other error: %v after %d calls; want it at once", err, calls)
	}
}
