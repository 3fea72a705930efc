package chaos_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/warrenhq/warren/node/nodetest"
	"github.com/warrenhq/warren/store/embedpg"
	"github.com/warrenhq/warren/store/storetest"
)

// TestChaos is the chaos test (see doc.go): faults for -chaos.duration under
// load, then the settle, then the ledger checked against Postgres and the
// hosts, with the summary printed.
func TestChaos(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("the chaos test needs root: network namespaces, loop devices, runc")
	}
	began := time.Now()
	db := storetest.NewDatabase(t) // first: its cleanup runs after the nodes are gone
	c := startCluster(t, db)
	t.Logf("5 nodes formed a cluster in %s", time.Since(began).Round(time.Millisecond))

	led := newLedger()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() { defer wg.Done(); sandboxLoad(c, led, stop) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); buildLoad(c, led, stop) }()
	faults(t, c, *chaosDuration)
	close(stop)
	wg.Wait()
	t.Logf("chaos over after %s; %d calls so far", time.Since(began).Round(time.Second), len(led.snapshot()))

	settle(t, c, db)
	obs := observe(t, c, db)
	killLive(c, led, obs)
	obs.Orphans = orphans(c, time.Minute)
	v := check(led.snapshot(), obs)
	for _, p := range v.Problems {
		t.Error(p)
	}
	fmt.Println(v.Summary())
	t.Logf("chaos test wall time %s", time.Since(began).Round(time.Second))
}

// pick returns a random node the test has not killed.
func (c *chaosCluster) pick() *cnode {
	var up []*cnode
	for _, n := range c.nodes {
		if !n.down.Load() {
			up = append(up, n)
		}
	}
	if len(up) == 0 {
		return c.nodes[rand.IntN(len(c.nodes))]
	}
	return up[rand.IntN(len(up))]
}

// record makes the call through a random node and writes it to the ledger;
// it returns the status and body.
func (c *chaosCluster) record(led *ledger, what, sandbox, build, method, path string, body any) (int, []byte) {
	n := c.pick()
	st, out, err := c.do(n, method, path, body, time.Minute)
	entry := call{Node: n.name, What: what, Sandbox: sandbox, Build: build, Status: st}
	if err != nil {
		entry.Err = err.Error()
	} else if st >= 300 {
		entry.Err = strings.TrimSpace(string(out))
	}
	var resp struct{ ID, Status string }
	if st >= 200 && st < 300 && json.Unmarshal(out, &resp) == nil {
		if what == "create" {
			entry.Sandbox = resp.ID
		}
		if build != "" || what == "build" {
			entry.BuildStatus = resp.Status
			if entry.Build == "" {
				entry.Build = resp.ID
			}
		}
	}
	led.add(entry)
	return st, out
}

// sandboxLoad creates a sandbox, runs a command in it and kills it (keeping
// about one in four, at most 4 live), through random nodes, until stop.
func sandboxLoad(c *chaosCluster, led *ledger, stop <-chan struct{}) {
	var kept []string
	for {
		select {
		case <-stop:
			return
		default:
		}
		st, out := c.record(led, "create", "", "", "POST", "/v1/sandboxes",
			map[string]any{"template": "base", "memory_mb": 64, "timeout_sec": 3600})
		var sb struct{ ID string }
		if st != 201 || json.Unmarshal(out, &sb) != nil {
			time.Sleep(500 * time.Millisecond)
			continue
		}
		c.record(led, "exec", sb.ID, "", "POST", "/v1/sandboxes/"+sb.ID+"/exec", map[string]any{"cmd": "echo chaos"})
		if len(kept) < 4 && rand.IntN(4) == 0 {
			kept = append(kept, sb.ID)
			continue
		}
		c.record(led, "kill", sb.ID, "", "DELETE", "/v1/sandboxes/"+sb.ID, nil)
	}
}

// buildLoad submits a one-step build and polls it to its end (at most 2
// minutes), one after another, until stop.
func buildLoad(c *chaosCluster, led *ledger, stop <-chan struct{}) {
	sfx := nodetest.RandomSuffix(4)
	for k := 0; ; k++ {
		select {
		case <-stop:
			return
		default:
		}
		st, out := c.record(led, "build", "", "", "POST", "/v1/admin/builds",
			map[string]any{"name": fmt.Sprintf("chaos-%s-%d", sfx, k), "recipe": []string{"echo built > /built"}})
		var b struct{ ID string }
		if st != 201 || json.Unmarshal(out, &b) != nil {
			time.Sleep(time.Second)
			continue
		}
		for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); {
			time.Sleep(time.Second)
			st, out := c.record(led, "poll", "", b.ID, "GET", "/v1/admin/builds/"+b.ID, nil)
			var got struct{ Status string }
			if st == 200 && json.Unmarshal(out, &got) == nil &&
				(got.Status == "succeeded" || got.Status == "failed" || got.Status == "cancelled") {
				break
			}
		}
	}
}

// faults runs the schedule on the test's goroutine: a SIGKILL of a random
// node every 20 s (from 15 s on; the node is started again 3 s later), one
// node cut off the switch for 15 s at 45 % of d and Postgres restarted at
// 75 % of d. No kill falls in the partition: two servers away at once would
// take the quorum.
func faults(t *testing.T, c *chaosCluster, d time.Duration) {
	start := time.Now()
	at := func(off time.Duration) {
		if w := time.Until(start.Add(off)); w > 0 {
			time.Sleep(w)
		}
	}
	partAt, pgAt := d*45/100, d*75/100
	type event struct {
		off time.Duration
		do  func()
	}
	var evs []event
	for k := 15 * time.Second; k < d-10*time.Second; k += 20 * time.Second {
		if k > partAt-10*time.Second && k < partAt+20*time.Second {
			continue
		}
		evs = append(evs, event{k, func() { killOne(t, c, start) }})
	}
	evs = append(evs, event{partAt, func() { partition(t, c, start) }}, event{pgAt, func() { restartPostgres(t, start) }})
	sort.Slice(evs, func(i, j int) bool { return evs[i].off < evs[j].off })
	for _, e := range evs {
		at(e.off)
		e.do()
	}
	at(d)
}

func killOne(t *testing.T, c *chaosCluster, start time.Time) {
	n := c.nodes[rand.IntN(len(c.nodes))]
	n.down.Store(true)
	n.proc.Stop(syscall.SIGKILL)
	t.Logf("%5s: SIGKILL %s", time.Since(start).Round(time.Second), n.name)
	time.Sleep(3 * time.Second)
	n.proc.Launch()
	if err := n.proc.WaitReady(3 * time.Minute); err != nil {
		t.Fatalf("%s after its SIGKILL: %v", n.name, err)
	}
	n.down.Store(false)
	t.Logf("%5s: %s ready again", time.Since(start).Round(time.Second), n.name)
}

func partition(t *testing.T, c *chaosCluster, start time.Time) {
	n := c.nodes[rand.IntN(len(c.nodes))]
	n.port.Move("iso")
	t.Logf("%5s: %s cut off", time.Since(start).Round(time.Second), n.name)
	time.Sleep(15 * time.Second)
	n.port.Move("lan")
	t.Logf("%5s: %s cabled back", time.Since(start).Round(time.Second), n.name)
}

// restartPostgres stops the test binary's Postgres (fast mode: every
// connection is cut) and starts it again on the same directory 5 s later.
func restartPostgres(t *testing.T, start time.Time) {
	srv := storetest.Server()
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%5s: Postgres stopped", time.Since(start).Round(time.Second))
	time.Sleep(5 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := embedpg.Start(ctx, embedpg.Config{Dir: filepath.Dir(srv.SocketDir()), Port: srv.Port(),
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}); err != nil {
		t.Fatal(err)
	}
	t.Logf("%5s: Postgres started again", time.Since(start).Round(time.Second))
}

// settle starts any node that is not running (one that exited by itself is
// logged), waits for the cluster to agree again and for every create and
// build in flight to end.
func settle(t *testing.T, c *chaosCluster, db string) {
	for _, n := range c.nodes {
		if !n.proc.Running() {
			t.Logf("%s had exited by itself; starting it", n.name)
			n.proc.Launch()
		}
	}
	for _, n := range c.nodes {
		if err := n.proc.WaitReady(2 * time.Minute); err != nil {
			t.Fatalf("%s: %v", n.name, err)
		}
		n.down.Store(false)
	}
	if miss := c.await(90 * time.Second); miss != "" {
		t.Fatalf("the cluster did not agree again after the chaos: %s", miss)
	}
	var busy int
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		busy = count(t, db, `SELECT (SELECT count(*) FROM sandboxes WHERE status = 'creating') +
			(SELECT count(*) FROM template_builds WHERE status IN ('queued', 'running'))`)
		if busy == 0 {
			return
		}
	}
	t.Logf("after the settle %d creates or builds are still in flight", busy)
}

func count(t *testing.T, db, q string) int {
	conn := connect(t, db)
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func connect(t *testing.T, db string) *pgx.Conn {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

// observe reads the sandbox and build rows and the templates builds made
// from Postgres, and each node's runc containers.
func observe(t *testing.T, c *chaosCluster, db string) observed {
	obs := observed{Sandboxes: map[string]sandboxRow{}, Builds: map[string]string{},
		BuildTemplates: map[string]int{}, Containers: map[string][]string{}}
	conn := connect(t, db)
	defer conn.Close(context.Background())
	ctx := context.Background()
	rows, err := conn.Query(ctx, `SELECT 'sb-' || id::text, status, error, coalesce('node-' || node_id::text, '') FROM sandboxes`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var r sandboxRow
		if err := rows.Scan(&id, &r.Status, &r.Error, &r.NodeID); err != nil {
			t.Fatal(err)
		}
		obs.Sandboxes[id] = r
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	rows, err = conn.Query(ctx, `SELECT 'bld-' || id::text, status FROM template_builds`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, st string
		if err := rows.Scan(&id, &st); err != nil {
			t.Fatal(err)
		}
		obs.Builds[id] = st
	}
	rows, err = conn.Query(ctx, `SELECT 'bld-' || build_id::text, count(*) FROM templates WHERE build_id IS NOT NULL GROUP BY build_id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		obs.BuildTemplates[id] = n
	}
	for _, n := range c.nodes {
		for _, ct := range containers(n.proc.DataDir) {
			obs.Containers[ct] = append(obs.Containers[ct], n.id)
		}
	}
	return obs
}

// killLive kills every sandbox still running or paused (as a client would:
// recorded in the ledger), so that nothing should be left on the hosts.
func killLive(c *chaosCluster, led *ledger, obs observed) {
	for id, r := range obs.Sandboxes {
		if r.Status == "running" || r.Status == "paused" {
			c.record(led, "kill", id, "", "DELETE", "/v1/sandboxes/"+id, nil)
		}
	}
}

// orphans waits up to d for every node's host objects to be back at its
// baseline and returns what is still left, as "<node>: <kind> <name>".
func orphans(c *chaosCluster, d time.Duration) []string {
	var left []string
	for deadline := time.Now().Add(d); ; time.Sleep(500 * time.Millisecond) {
		left = nil
		for _, n := range c.nodes {
			for _, l := range snapshotHost(n.proc.DataDir, n.prefix).leaksSince(n.base) {
				left = append(left, n.name+": "+l)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
	}
}

func runOut(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).Output()
	return string(out), err
}
