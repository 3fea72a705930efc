package hardening_test

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/warrenhq/warren/node"
	"github.com/warrenhq/warren/store/embedpg"
)

// TestFaultPostgresOutage stops the node's Postgres for 10 s in the middle of
// a load of 10 clients and starts it again: meanwhile /readyz and the data
// routes answer 503 with Retry-After, the node recovers by itself, no 5xx
// other than those, every 201 create has exactly one row, and no host object
// remains.
func TestFaultPostgresOutage(t *testing.T) {
	dir := t.TempDir()
	_ = os.Chmod(dir, 0o755)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pg, err := embedpg.Start(ctx, embedpg.Config{Dir: dir, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	running := pg
	t.Cleanup(func() {
		if running != nil {
			_ = running.Stop()
		}
	})
	if err := pg.CreateDatabase(ctx, "warren", ""); err != nil {
		t.Fatal(err)
	}
	n, c := startNode(t, func(cfg *node.Config) { cfg.DatabaseURL = pg.URL("warren") })
	prefix := hostPrefix(t, n.DataDir)
	base := snapshotHost(t, n.DataDir, prefix)

	stop := make(chan struct{})
	result := make(chan *loadStats, 1)
	go func() { result <- runLoad(c, 10, 5*time.Minute, stop) }()
	time.Sleep(8 * time.Second)

	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	running = nil
	down := time.Now()
	outage := map[string]int{}
	for time.Since(down) < 10*time.Second {
		for _, p := range []string{"/readyz", "/v1/sandboxes", "/v1/me"} {
			r, err := c.call("GET", p, nil)
			ok := err == nil && r.status == 503 && r.header.Get("Retry-After") != "" && r.errShape()
			badInput(t, "outage", "GET "+p+" while Postgres is down", ok, r, err)
			outage[p+" "+itoa3(r.status)]++
		}
		time.Sleep(500 * time.Millisecond)
	}
	pg2, err := embedpg.Start(ctx, embedpg.Config{Dir: dir, Port: pg.Port(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	running = pg2
	up := time.Now()
	recovered := waitFor(60*time.Second, func() bool {
		r, err := c.call("GET", "/v1/sandboxes", nil)
		return err == nil && r.status == 200
	})
	recovery := time.Since(up)
	t.Logf("outage answers %v; recovered %v in %s", outage, recovered, recovery)
	time.Sleep(8 * time.Second)
	close(stop)
	st := <-result
	t.Logf("load across the outage: %v %v; outage from %s", st.answers, st.samples, down.Format("15:04:05.000"))
	for _, b := range st.bad {
		t.Errorf("load across the outage: %s", b)
	}
	tally.Note("postgres outage: 10 s; answers during it %v; recovered %s after the restart; load answers %v", outage, recovery.Round(time.Millisecond), st.answers)
	// Every sandbox that answered 201 has one row; the ones whose create
	// straddled the outage are ended, not left creating.
	checkRows(t, n, st.created, "killed")
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	rows, err := n.Store().Pool.Query(ctx2, "SELECT 'sb-' || id::text, status, error FROM sandboxes WHERE status IN ('creating', 'running')")
	if err != nil {
		t.Fatal(err)
	}
	stuck := 0
	for rows.Next() {
		var id, status, msg string
		if err := rows.Scan(&id, &status, &msg); err != nil {
			t.Fatal(err)
		}
		stuck++
		t.Errorf("sandbox %s is still recorded %s after the load ended (its create straddled the outage; host objects %v)", id, status, snapshotHost(t, n.DataDir, prefix).leaksSince(base))
	}
	rows.Close()
	checkNoLeaks(t, "postgres outage", n.DataDir, prefix, base)
	fault(t, "postgres stopped 10 s mid-load", recovered && len(st.bad) == 0 && stuck == 0 && !t.Failed())
}

func itoa3(n int) string {
	return string(rune('0'+n/100%10)) + string(rune('0'+n/10%10)) + string(rune('0'+n%10))
}
