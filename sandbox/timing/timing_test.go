package timing

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestRecorderAndServerTiming(t *testing.T) {
	ctx, r := With(context.Background())
	if From(ctx) != r {
		t.Fatal("From does not return the Recorder With attached")
	}
	end := Start(ctx, "disk")
	time.Sleep(2 * time.Millisecond)
	end()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() { defer wg.Done(); r.Add("netns", time.Millisecond) }()
	}
	wg.Wait()
	ph := r.Phases()
	if len(ph) != 5 || ph[0].Name != "disk" || ph[0].Dur < 2*time.Millisecond {
		t.Fatalf("phases %+v", ph)
	}
	got := ParseServerTiming(r.ServerTiming())
	if got["netns"] != 4*time.Millisecond || got["disk"] < 2*time.Millisecond || len(got) != 2 {
		t.Fatalf("round trip of %q: %v", r.ServerTiming(), got)
	}
}

func TestNoRecorder(t *testing.T) {
	ctx := context.Background()
	Start(ctx, "x")() // must not panic
	var r *Recorder
	r.Add("x", time.Second)
	if r.Phases() != nil || r.ServerTiming() != "" {
		t.Fatal("a nil Recorder recorded")
	}
}

func TestParseServerTimingSkipsJunk(t *testing.T) {
	got := ParseServerTiming(`a;dur=1.5, ;dur=2, b;desc="x", c;dur=-1, d;dur=x, e;desc=y;dur=0.25`)
	want := map[string]time.Duration{"a": 1500 * time.Microsecond, "e": 250 * time.Microsecond}
	if len(got) != len(want) || got["a"] != want["a"] || got["e"] != want["e"] {
		t.Fatalf("got %v, want %v", got, want)
	}
}
