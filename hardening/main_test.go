package hardening_test

import (
	"testing"

	"github.com/warrenhq/warren/hardening"
	"github.com/warrenhq/warren/store/storetest"
)

// tally counts every attempt of the suite; TestZZSummary prints it last.
var tally = hardening.NewTally()

func TestMain(m *testing.M) { storetest.Main(m) }

// attack records an escape attempt and fails t when it was not blocked.
func attack(t testing.TB, group, what string, blocked bool, detail ...any) {
	t.Helper()
	tally.Record(hardening.Attack, group, what, blocked)
	if !blocked {
		t.Errorf("ESCAPE %s/%s: %v", group, what, detail)
	}
}

// badInput records a hostile request and fails t unless it was answered
// cleanly.
func badInput(t testing.TB, group, what string, clean bool, detail ...any) {
	t.Helper()
	tally.Record(hardening.BadInput, group, what, clean)
	if !clean {
		t.Errorf("bad input %s/%s not rejected cleanly: %v", group, what, detail)
	}
}

// fault records an injected fault and fails t unless the node survived it.
func fault(t testing.TB, what string, survived bool, detail ...any) {
	t.Helper()
	tally.Record(hardening.Fault, "fault", what, survived)
	if !survived {
		t.Errorf("fault %s not survived: %v", what, detail)
	}
}
