package sandboxes

import (
	"errors"
	"testing"
	"time"

	"github.com/warrenhq/warren/sandbox"
)

func TestHealthcheckRuntime(t *testing.T) {
	hc, err := ParseHealthcheck([]byte(`{"cmd":"true","interval_sec":2,"timeout_sec":3,"retries":4,"start_period_sec":5}`))
	if err != nil {
		t.Fatal(err)
	}
	got := *hc.Runtime()
	want := sandbox.Healthcheck{Cmd: "true", Interval: 2 * time.Second, Timeout: 3 * time.Second, Retries: 4, StartPeriod: 5 * time.Second}
	if got != want {
		t.Fatalf("Runtime() = %+v, want %+v", got, want)
	}
	neg := (&Healthcheck{Cmd: "x", IntervalSec: -1, Retries: -2}).Runtime()
	if neg.Interval != 0 || neg.Retries != 0 {
		t.Fatalf("negative fields give %+v, want zero (the runtime's defaults)", neg)
	}
	for _, in := range []string{"", "null"} {
		if hc, err := ParseHealthcheck([]byte(in)); err != nil || hc != nil || hc.Runtime() != nil {
			t.Fatalf("ParseHealthcheck(%q) = %v, %v; want nil, nil", in, hc, err)
		}
	}
	if _, err := ParseHealthcheck([]byte(`{"cmd":`)); !errors.Is(err, ErrInvalid) || !errors.Is(err, sandbox.ErrInvalid) {
		t.Fatalf("bad JSON gives %v, want ErrInvalid (the runtime's value)", err)
	}
}
