package hardening_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/warrenhq/warren/hardening"
)

// TestZZSummary runs last (files and tests run in order): it prints the
// tally, writes it to $WARREN_ADVERSARIAL_SUMMARY when set, and fails if
// anything escaped, was not rejected cleanly, was not survived, leaked or
// was lost.
func TestZZSummary(t *testing.T) {
	s := tally.Summary()
	fmt.Print(s)
	if p := os.Getenv("WARREN_ADVERSARIAL_SUMMARY"); p != "" {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Errorf("writing the summary: %v", err)
		}
	}
	for k, name := range map[hardening.Kind]string{hardening.Attack: "escapes", hardening.BadInput: "bad inputs not rejected cleanly", hardening.Fault: "faults not survived"} {
		if n := tally.Failed(k); n > 0 {
			t.Errorf("%d %s", n, name)
		}
	}
	if l := tally.Leaks(); len(l) > 0 {
		t.Errorf("%d host objects leaked", len(l))
	}
	if n := tally.RowsLost(); n > 0 {
		t.Errorf("%d rows lost or duplicated", n)
	}
}
