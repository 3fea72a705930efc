package node_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warrenhq/warren/cluster"
	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/node"
	"github.com/warrenhq/warren/node/nodetest"
	"github.com/warrenhq/warren/store/storetest"
)

// freeAddrs returns n loopback addresses whose ports were free a moment ago.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().String())
	}
	for _, ln := range lns {
		ln.Close()
	}
	return out
}

type readyzBody struct {
	Status     string `json:"status"`
	Ready      *bool  `json:"ready"`
	WaitingFor string `json:"waiting_for"`
	Degraded   string `json:"degraded"`
}

func getReadyz(cl *http.Client, url string) (int, readyzBody, error) {
	res, err := cl.Get(url + "/readyz")
	if err != nil {
		return 0, readyzBody{}, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var body readyzBody
	if err := json.Unmarshal(b, &body); err != nil {
		return res.StatusCode, body, err
	}
	return res.StatusCode, body, nil
}

// TestFormingFromZero starts three servers in the same instant against one
// empty database, each joining the other two: none fails, exactly one builds
// the base template (one row, one build in a data dir's cache), the other two
// pull it (a replica each, no build of their own), one leader is
// elected, and /readyz answers 200 on all within a bound. While they form,
// every 503 from /readyz names what the node waits for.
func TestFormingFromZero(t *testing.T) {
	const servers = 3
	db := storetest.NewDatabase(t)
	key := cluster.GenerateKey()
	addrs := freeAddrs(t, 2*servers) // all at once, so no two are the same
	gossip, httpAddrs := addrs[:servers], addrs[servers:]

	// Watch /readyz on every node while they form.
	stopWatch := make(chan struct{})
	var watched sync.WaitGroup
	var mu sync.Mutex
	waits := map[string]int{} // waiting_for text → times seen
	var badWaits []string
	cl := &http.Client{Timeout: 2 * time.Second}
	for _, a := range httpAddrs {
		watched.Add(1)
		go func() {
			defer watched.Done()
			for {
				select {
				case <-stopWatch:
					return
				case <-time.After(100 * time.Millisecond):
				}
				code, body, err := getReadyz(cl, "http://"+a)
				if err != nil || code == http.StatusOK {
					continue
				}
				mu.Lock()
				if code != http.StatusServiceUnavailable || body.WaitingFor == "" || body.Ready == nil || *body.Ready {
					badWaits = append(badWaits, body.Status+" "+body.WaitingFor)
				} else {
					waits[body.WaitingFor]++
				}
				mu.Unlock()
			}
		}()
	}

	begin := time.Now()
	nodes := make([]*nodetest.Node, servers)
	var wg sync.WaitGroup
	for i := range servers {
		var join []string
		for j, g := range gossip {
			if j != i {
				join = append(join, g)
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done() // nodetest.Start's t.Fatal ends this goroutine
			nodes[i] = nodetest.Start(t, nodetest.WithDatabase(db), nodetest.WithCluster(key, true, servers, join...),
				func(c *node.Config) {
					c.Cluster.GossipAddr, c.HTTPAddr = gossip[i], httpAddrs[i]
					c.DefaultDiskSizeMB = 1024 // the smallest: a pull checksums the grown image
				})
		}()
	}
	wg.Wait()
	opened := time.Since(begin)
	for i, n := range nodes {
		if n == nil {
			close(stopWatch)
			watched.Wait()
			t.Fatalf("server %d did not start", i)
		}
	}
	t.Logf("three servers opened in %v", opened.Round(time.Millisecond))

	// One leader, the same on all three, and readyz 200 everywhere.
	const bound = 60 * time.Second
	deadline := time.Now().Add(bound)
	for {
		var leaders []string
		ok := true
		for _, n := range nodes {
			_, l := n.RaftState()
			leaders = append(leaders, l)
			code, body, err := getReadyz(cl, n.URL)
			if err != nil || code != http.StatusOK || body.Ready == nil || !*body.Ready || body.WaitingFor != "" || body.Degraded != "" {
				ok = false
			}
		}
		if ok && leaders[0] != "" && leaders[0] == leaders[1] && leaders[1] == leaders[2] {
			break
		}
		if time.Now().After(deadline) {
			close(stopWatch)
			watched.Wait()
			t.Fatalf("after %v: leaders %v, or readyz not 200 ready on all", bound, leaders)
		}
		time.Sleep(200 * time.Millisecond)
	}
	close(stopWatch)
	watched.Wait()
	t.Logf("one leader and readyz 200 on all %v after the start", time.Since(begin).Round(time.Millisecond))
	t.Logf("readyz waits seen while forming: %v", waits)
	if len(badWaits) > 0 {
		t.Fatalf("readyz answered not-ready without naming what it waits for: %v", badWaits)
	}
	_, leader := nodes[0].RaftState()
	leads := 0
	for _, n := range nodes {
		if n.ID.String() == leader {
			leads++
		}
	}
	if leads != 1 {
		t.Fatalf("leader %s is %d of the three servers, want 1", leader, leads)
	}

	// One base template row, one build, the same image on all three.
	ctx := context.Background()
	pool := nodes[0].Store().Pool
	var tpl id.TemplateID
	var rows int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM templates WHERE team_id = $1 AND name = $2",
		id.PlatformTeamID, node.BaseTemplate).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 1 {
		t.Fatalf("base template rows = %d, want 1", rows)
	}
	if err := pool.QueryRow(ctx, "SELECT id FROM templates WHERE team_id = $1 AND name = $2", id.PlatformTeamID, node.BaseTemplate).Scan(&tpl); err != nil {
		t.Fatal(err)
	}
	reps, err := nodes[0].Store().ListTemplateReplicas(ctx, tpl)
	if err != nil {
		t.Fatal(err)
	}
	onNode := map[id.NodeID]string{}
	for _, r := range reps {
		onNode[r.NodeID] = r.Path
	}
	if len(reps) != servers {
		t.Fatalf("replicas of the base template: %d, want %d", len(reps), servers)
	}
	built := 0
	for _, n := range nodes {
		p, ok := onNode[n.ID]
		if !ok {
			t.Fatalf("node %s has no replica of the base template", n.ID)
		}
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("node %s: base image: %v", n.ID, err)
		}
		if _, err := os.Stat(filepath.Join(n.DataDir, "cache", "base-busybox.img")); err == nil {
			built++
		}
	}
	if built != 1 {
		// A puller that fell back to its own build would have one too.
		t.Fatalf("%d nodes built the base image, want 1", built)
	}

}

// TestFormingNoQuorum: a server expecting two peers that never come builds
// the base, keeps serving the API (templates list, sandboxes list) and says
// in a 200 /readyz that it has no quorum.
func TestFormingNoQuorum(t *testing.T) {
	n := nodetest.Start(t, nodetest.WithCluster(cluster.GenerateKey(), true, 3))
	code, body, err := getReadyz(&http.Client{Timeout: 5 * time.Second}, n.URL)
	if err != nil {
		t.Fatal(err)
	}
	if code != http.StatusOK || body.Ready == nil || !*body.Ready || body.WaitingFor != "" {
		t.Fatalf("readyz without quorum: %d %+v, want 200 ready", code, body)
	}
	if !strings.Contains(body.Degraded, "quorum") {
		t.Fatalf("readyz degraded = %q, want it to name the missing quorum", body.Degraded)
	}
	a := newAPI(n)
	if r := a.do(t, "GET", "/v1/templates", nil); r.status != http.StatusOK || !strings.Contains(string(r.body), node.BaseTemplate) {
		t.Fatalf("templates without quorum: %d %s", r.status, r.body)
	}
	if r := a.do(t, "GET", "/v1/sandboxes", nil); r.status != http.StatusOK {
		t.Fatalf("sandboxes without quorum: %d %s", r.status, r.body)
	}
}
