package api

import (
	"testing"
	"time"

	"github.com/warrenhq/warren/id"
)

func TestTouchMemo(t *testing.T) {
	var m touchMemo
	a, b := id.NewAPIKeyID(), id.NewAPIKeyID()
	t0 := time.Now()
	steps := []struct {
		key  id.APIKeyID
		at   time.Duration
		want bool
	}{
		{a, 0, true}, {a, time.Second, false}, {b, time.Second, true},
		{a, touchEvery - time.Millisecond, false}, {a, touchEvery, true}, {a, touchEvery + time.Second, false},
		{a, -time.Hour, true}, // the clock went back: send
	}
	for i, s := range steps {
		if got := m.due(s.key, t0.Add(s.at)); got != s.want {
			t.Errorf("step %d (%v): due %v, want %v", i, s.at, got, s.want)
		}
	}
}

func TestTouchMemoBounded(t *testing.T) {
	now := time.Now()
	fill := func() *touchMemo {
		m := &touchMemo{}
		for range maxTouched {
			m.due(id.NewAPIKeyID(), now)
		}
		if len(m.sent) != maxTouched {
			t.Fatalf("%d keys remembered, want %d", len(m.sent), maxTouched)
		}
		return m
	}
	// At the bound, entries older than touchEvery go first...
	m := fill()
	if !m.due(id.NewAPIKeyID(), now.Add(touchEvery)) || len(m.sent) != 1 {
		t.Fatalf("%d keys after expiring the old ones, want 1", len(m.sent))
	}
	// ...and when none is old, all of them (a few extra updates, no growth).
	m = fill()
	if !m.due(id.NewAPIKeyID(), now) || len(m.sent) != 1 {
		t.Fatalf("%d keys after clearing, want 1", len(m.sent))
	}
}
