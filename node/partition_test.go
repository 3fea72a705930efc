package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/cluster"
	"github.com/warrenhq/warren/node/nodetest"
	"github.com/warrenhq/warren/sandbox/netns"
	"github.com/warrenhq/warren/store/storetest"
)

// pnode is one `warren node` process of the partition test, alone in its
// network namespace, cabled to one of the two switches.
type pnode struct {
	name   string // s1…s3, c1, c2
	server bool
	ip     string
	ns     *nodetest.NetNS
	port   *nodetest.Port
	proc   *nodetest.Proc
	id     string // node-<uuid>, known once it ran
	key    string // the admin key
}

// call sends body as JSON to the node's API, bounded by timeout.
func (n *pnode) call(method, path string, body any, timeout time.Duration) (resp, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return resp{}, err
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, n.proc.URL+path, rd)
	if err != nil {
		return resp{}, err
	}
	req.Header.Set("Authorization", "Bearer "+n.key)
	res, err := n.proc.Client().Do(req)
	if err != nil {
		return resp{}, fmt.Errorf("%s %s on %s: %w", method, path, n.name, err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		return resp{}, fmt.Errorf("%s %s on %s: reading the body: %w", method, path, n.name, err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: out}, nil
}

// must is call, failing the test on a transport error.
func (n *pnode) must(t *testing.T, method, path string, body any) resp {
	t.Helper()
	r, err := n.call(method, path, body, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// view is the node's GET /v1/admin/nodes.
func (n *pnode) view() (nodesJSON, error) {
	var v nodesJSON
	r, err := n.call("GET", "/v1/admin/nodes", nil, 10*time.Second)
	if err != nil {
		return v, err
	}
	if r.status != 200 {
		return v, fmt.Errorf("nodes on %s: %s", n.name, r)
	}
	return v, json.Unmarshal(r.body, &v)
}

// agreement checks that every node of seers lists each member of want with
// the wanted status and names one and the same leader (one of leaders when
// given). It returns the leader, or a description of what differs.
func agreement(seers []*pnode, want map[string]string, leaders []*pnode) (string, string) {
	var leader string
	for _, n := range seers {
		v, err := n.view()
		if err != nil {
			return "", err.Error()
		}
		got := map[string]string{}
		for _, m := range v.Nodes {
			got[m.ID] = m.Status
		}
		for id, st := range want {
			if got[id] != st {
				return "", fmt.Sprintf("%s sees %s as %q, want %q", n.name, id, got[id], st)
			}
		}
		if v.Leader == nil {
			return "", n.name + " sees no leader"
		}
		if leader != "" && *v.Leader != leader {
			return "", fmt.Sprintf("%s names leader %s, another node %s", n.name, *v.Leader, leader)
		}
		leader = *v.Leader
	}
	if leaders != nil {
		ok := false
		for _, l := range leaders {
			ok = ok || l.id == leader
		}
		if !ok {
			return "", "the leader " + leader + " is not among the expected ones"
		}
	}
	return leader, ""
}

// within polls cond (which describes what is still missing, "" once it
// holds) until it holds or d passes, and returns how long it took.
func within(t *testing.T, d time.Duration, what string, cond func() string) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		miss := cond()
		if miss == "" {
			return time.Since(start)
		}
		if time.Since(start) > d {
			t.Fatalf("%s: not within %s: %s", what, d, miss)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestPartition runs a cluster of five `warren node` processes (three
// servers, two gossip-only), each in a network namespace of its own, cabled
// to two switches joined by one trunk. The leader and a non-server sit on
// one switch (the minority), the other three on the other; the trunk's link
// goes down. The minority must refuse to schedule, the majority must elect a
// leader, keep creating sandboxes and mark the minority's nodes dead and
// their sandbox lost; after the link comes back every node must agree on all
// five members and one leader, the old minority must schedule again, and the
// sandbox recorded lost must be gone from its node.
func TestPartition(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: network namespaces, loop devices, runc")
	}
	db := storetest.NewDatabase(t) // first: its cleanup runs after the nodes are gone
	sfx := nodetest.RandomSuffix(3)
	sw := nodetest.NewSwitch(t, "wpt"+sfx+"-sw")
	sw.Bridge("swa")
	sw.Bridge("swb")
	trunk := sw.Trunk("swa", "swb")
	lan := fmt.Sprintf("172.31.%d", 16+rand.IntN(200)) // a /24 that exists only inside the test's namespaces
	key := cluster.GenerateKey()

	var nodes []*pnode
	for i, name := range []string{"s1", "s2", "s3", "c1", "c2"} {
		n := &pnode{name: name, server: name[0] == 's', ip: fmt.Sprintf("%s.%d", lan, 11+i)}
		n.ns = nodetest.NewNetNS(t, fmt.Sprintf("wpt%s-%s", sfx, name))
		n.port = sw.Connect(n.ns, "swb", n.ip+"/24")
		args := []string{"--advertise", n.ip, "--gossip-addr", n.ip + ":7946", "--grpc-addr", n.ip + ":7948"}
		if n.server {
			args = append(args, "--server", "--bootstrap-expect", "3", "--raft-addr", n.ip+":7947")
		} else {
			args = append(args, "--server=false")
		}
		if i > 0 {
			args = append(args, "--join", nodes[0].ip+":7946")
		}
		n.proc = nodetest.NewProc(t, nodetest.ProcDatabase(db), nodetest.ProcInNetNS(n.ns, n.ip+":8080"),
			nodetest.ProcNetwork(fmt.Sprintf("wpb%s%d", sfx, i), fmt.Sprintf("10.77.%d.0/24", i)),
			nodetest.ProcArgs(args...), nodetest.ProcEnv("WARREN_CLUSTER_KEY="+key))
		nodes = append(nodes, n)
	}
	s1, c1, c2 := nodes[0], nodes[3], nodes[4]
	began := time.Now()
	s1.proc.Start() // the first node on the database makes the admin
	for _, n := range nodes[1:] {
		n.proc.Launch()
	}
	for _, n := range nodes[1:] {
		if err := n.proc.WaitReady(2 * time.Minute); err != nil {
			t.Fatalf("%s: %v", n.name, err)
		}
	}
	admin := s1.proc.APIKey()
	byID := map[string]*pnode{}
	for _, n := range nodes {
		n.id, n.key = n.proc.NodeID(), admin
		byID[n.id] = n
	}
	allAlive := func(ns ...*pnode) map[string]string {
		m := map[string]string{}
		for _, n := range ns {
			m[n.id] = "alive"
		}
		return m
	}
	var leader string
	took := within(t, time.Minute, "5 alive members and one leader on every node", func() (miss string) {
		leader, miss = agreement(nodes, allAlive(nodes...), nil)
		return miss
	})
	t.Logf("5 processes ready and the cluster formed %s after the first start (agreement %s)", time.Since(began).Round(time.Millisecond), took.Round(time.Millisecond))

	// Cable the leader and c1 to switch A, the rest stays on B (the trunk is
	// up: nothing is cut yet). Should the brief re-cabling move the
	// leadership, cable the new leader instead.
	var minority, majority []*pnode
	var old *pnode
	for attempt := 0; ; attempt++ {
		old = byID[leader]
		minority, majority = []*pnode{old, c1}, nil
		for _, n := range nodes {
			if n != old && n != c1 {
				majority = append(majority, n)
			}
		}
		for _, n := range minority {
			if n.port.Bridge != "swa" {
				n.port.Move("swa")
			}
		}
		for _, n := range majority {
			if n.port.Bridge != "swb" {
				n.port.Move("swb")
			}
		}
		within(t, 30*time.Second, "the cluster intact after re-cabling", func() (miss string) {
			leader, miss = agreement(nodes, allAlive(nodes...), nil)
			return miss
		})
		if leader == old.id {
			break
		}
		if attempt == 2 {
			t.Fatalf("the leadership moves on every re-cabling (now %s)", leader)
		}
	}
	t.Logf("minority on switch A: %s (leader), %s; majority on switch B: %s, %s, %s",
		old.name, c1.name, majority[0].name, majority[1].name, majority[2].name)

	// A sandbox on the minority side: drain the majority's nodes meanwhile.
	for _, n := range majority {
		if r := s1.must(t, "POST", "/v1/admin/nodes/"+n.id+"/drain", nil); r.status != 200 {
			t.Fatalf("drain %s: %s", n.name, r)
		}
	}
	r := c1.must(t, "POST", "/v1/sandboxes", map[string]any{"template": "base", "memory_mb": 64})
	if r.status != http.StatusCreated {
		t.Fatalf("create on the minority side: %s", r)
	}
	var lostSB clusterSandbox
	r.decode(t, &lostSB)
	for _, n := range majority {
		if r := s1.must(t, "POST", "/v1/admin/nodes/"+n.id+"/undrain", nil); r.status != 200 {
			t.Fatalf("undrain %s: %s", n.name, r)
		}
	}
	owner := byID[lostSB.NodeID]
	if owner != old && owner != c1 {
		t.Fatalf("the sandbox landed on %s, a drained node", lostSB.NodeID)
	}
	if out := execOut(t, c1, lostSB.ID, "echo up"); out != "up\n" {
		t.Fatalf("exec in the minority's sandbox: %q", out)
	}
	prefix := owner.proc.HostPrefix()
	objs := sandboxHostObjects(t, owner.proc.DataDir, prefix, lostSB.ID)
	if len(objs.Mounts) == 0 || len(objs.Loops) == 0 || len(objs.NetNS) == 0 || len(objs.Cgroups) == 0 || len(objs.Procs) == 0 ||
		!hasLink(t, owner.ns, netns.VethName(prefix, lostSB.ID)) {
		t.Fatalf("sandbox %s on %s: incomplete host objects %s", lostSB.ID, owner.name, objs)
	}

	// The cut. From this instant the majority's side is watched (on its own
	// goroutine, so that the times are measured from the cut) while creates
	// are sent through the minority.
	trunk.Unplug()
	cut := time.Now()
	t.Logf("trunk down: %s and %s cut off", old.name, c1.name)
	watched, stop := make(chan majorityTimes, 1), make(chan struct{})
	t.Cleanup(func() { close(stop) }) // should the test end first
	go func() { watched <- watchMajority(majority, minority, c2, lostSB.ID, cut, 45*time.Second, stop) }()

	// The minority refuses to schedule: 503, no leader. A create sent in the
	// first instant may still be placed by the stepping-down leader.
	ref := refuse(c1, cut)
	for _, l := range ref.log {
		t.Log(l)
	}
	if ref.err != nil {
		t.Fatalf("the minority refusing a create: %v", ref.err)
	}
	t.Logf("minority: a create through %s sent %s after the cut was refused %s after the cut: %s",
		c1.name, ref.sent.Round(time.Millisecond), ref.answered.Round(time.Millisecond), ref.r)
	if ref.answered > 15*time.Second {
		t.Errorf("the minority took %s to refuse a create, want ≤ 15 s", ref.answered)
	}
	for _, n := range minority {
		r, err := n.call("POST", "/v1/sandboxes", map[string]any{"template": "base", "memory_mb": 64}, 20*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if r.status != http.StatusServiceUnavailable || !strings.Contains(r.apiErr(t).Error.Message, "no leader") {
			t.Fatalf("create through %s on the minority side: %s, want 503 naming no leader", n.name, r)
		}
		if v, err := n.view(); err != nil || v.Leader != nil {
			t.Fatalf("%s on the minority side names a leader: %v %v", n.name, v.Leader, err)
		}
	}

	// The majority elects a leader of its own, declares the minority's nodes
	// dead (each majority node on its own) and records their sandbox lost.
	mt := <-watched
	if mt.leaderAt == 0 {
		t.Fatalf("no leader on the majority side within 45 s of the cut: %s", mt.miss)
	}
	t.Logf("majority: %s elected leader %s after the cut", byID[mt.leader].name, mt.leaderAt.Round(time.Millisecond))
	var deads []string
	for k, d := range mt.deadAt {
		deads = append(deads, fmt.Sprintf("%s %s", k, d.Round(100*time.Millisecond)))
	}
	sort.Strings(deads)
	t.Logf("majority: the minority declared dead after the cut: %s", strings.Join(deads, ", "))
	if len(mt.deadAt) != len(majority)*len(minority) {
		t.Fatalf("the majority did not see the minority dead within 45 s of the cut: %s", mt.miss)
	}
	if mt.lostAt == 0 {
		t.Fatalf("the minority's sandbox was not recorded lost within 45 s of the cut: %s", mt.miss)
	}
	t.Logf("majority: the minority's sandbox recorded lost %s after the cut", mt.lostAt.Round(time.Millisecond))
	r = c2.must(t, "POST", "/v1/sandboxes", map[string]any{"template": "base", "memory_mb": 64})
	if r.status != http.StatusCreated {
		t.Fatalf("create on the majority side: %s", r)
	}
	var majSB clusterSandbox
	r.decode(t, &majSB)
	if byID[majSB.NodeID] == nil || byID[majSB.NodeID] == old || byID[majSB.NodeID] == c1 {
		t.Fatalf("the majority placed a sandbox on %s", majSB.NodeID)
	}
	if out := execOut(t, c2, majSB.ID, "echo majority"); out != "majority\n" {
		t.Fatalf("exec on the majority side: %q", out)
	}
	// Still refusing, after the whole partition.
	if r, err := c1.call("POST", "/v1/sandboxes", map[string]any{"template": "base", "memory_mb": 64}, 20*time.Second); err != nil || r.status != http.StatusServiceUnavailable {
		t.Fatalf("create on the minority side late in the partition: %s %v", r, err)
	}
	t.Logf("partition held for %s", time.Since(cut).Round(time.Millisecond))

	// Its node still reaches Postgres: it may end the sandbox already.
	if left := alive(objs.Procs); len(left) > 0 {
		t.Logf("the sandbox recorded lost still runs on %s at the end of the partition", owner.name)
	} else {
		t.Logf("the sandbox recorded lost was ended on %s during the partition", owner.name)
	}

	// The heal.
	trunk.Plug()
	healed := time.Now()
	took = within(t, 60*time.Second, "every node agreeing on 5 alive members and one leader after the heal", func() (miss string) {
		leader, miss = agreement(nodes, allAlive(nodes...), nil)
		return miss
	})
	t.Logf("healed: all 5 alive and leader %s on every node %s after the link came back", byID[leader].name, took.Round(time.Millisecond))

	// The old minority schedules again.
	r = c1.must(t, "POST", "/v1/sandboxes", map[string]any{"template": "base", "memory_mb": 64})
	if r.status != http.StatusCreated {
		t.Fatalf("create through %s after the heal: %s", c1.name, r)
	}
	var after clusterSandbox
	r.decode(t, &after)
	if out := execOut(t, c1, after.ID, "echo healed"); out != "healed\n" {
		t.Fatalf("exec after the heal: %q", out)
	}
	t.Logf("after the heal: a create through %s placed on %s and answering", c1.name, byID[after.NodeID].name)

	for _, sb := range []clusterSandbox{majSB, after} {
		if r := c2.must(t, "DELETE", "/v1/sandboxes/"+sb.ID, nil); r.status != 200 {
			t.Errorf("kill %s: %s", sb.ID, r)
		}
	}

	// The sandbox recorded lost no longer runs on its node: the row says it
	// is gone, so its node (which never saw it fail) must end it once it
	// hears so, or it would run on unseen, past its timeout and counted in
	// no one's books.
	if r := c2.must(t, "POST", "/v1/sandboxes/"+lostSB.ID+"/exec", map[string]any{"cmd": "true"}); r.status != http.StatusConflict {
		t.Errorf("exec in the lost sandbox: %s, want 409", r)
	}
	within(t, 30*time.Second, "the lost sandbox torn down on "+owner.name, func() string {
		h := sandboxHostObjects(t, owner.proc.DataDir, prefix, lostSB.ID)
		left := alive(objs.Procs)
		veth := hasLink(t, owner.ns, netns.VethName(prefix, lostSB.ID))
		if !h.empty() || len(left) > 0 || veth {
			return fmt.Sprintf("left: %s, processes %v, veth %v", h, left, veth)
		}
		return ""
	})
	t.Logf("the lost sandbox was gone from %s %s after the heal", owner.name, time.Since(healed).Round(time.Millisecond))
}

// majorityTimes is what the majority's side did after the cut, timed from it.
type majorityTimes struct {
	leader   string
	leaderAt time.Duration            // all majority nodes name one leader of theirs
	deadAt   map[string]time.Duration // "<observer> sees <node>": the minority node dead
	lostAt   time.Duration            // the minority's sandbox recorded lost
	miss     string                   // what was still missing at the end
}

// watchMajority polls every majority node's view (and the sandbox sb,
// through via) until a majority leader, every minority node dead on every
// majority node and sb lost were all seen, or d passed, or stop is closed.
// It runs on its own goroutine and never fails the test itself.
func watchMajority(majority, minority []*pnode, via *pnode, sb string, cut time.Time, d time.Duration, stop <-chan struct{}) majorityTimes {
	out := majorityTimes{deadAt: map[string]time.Duration{}}
	for {
		var miss []string
		if out.leaderAt == 0 {
			if l, m := agreement(majority, nil, majority); m == "" {
				out.leader, out.leaderAt = l, time.Since(cut)
			} else {
				miss = append(miss, m)
			}
		}
		for _, obs := range majority {
			v, err := obs.view()
			if err != nil {
				miss = append(miss, err.Error())
				continue
			}
			st := map[string]string{}
			for _, m := range v.Nodes {
				st[m.ID] = m.Status
			}
			for _, n := range minority {
				k := obs.name + " sees " + n.name
				if _, seen := out.deadAt[k]; seen {
					continue
				}
				if st[n.id] == "dead" {
					out.deadAt[k] = time.Since(cut)
				} else {
					miss = append(miss, fmt.Sprintf("%s as %q", k, st[n.id]))
				}
			}
			for _, n := range majority {
				if st[n.id] != "alive" {
					miss = append(miss, fmt.Sprintf("%s sees %s as %q", obs.name, n.name, st[n.id]))
				}
			}
		}
		if out.lostAt == 0 {
			r, err := via.call("GET", "/v1/sandboxes/"+sb, nil, 10*time.Second)
			var row clusterSandbox
			switch {
			case err != nil:
				miss = append(miss, err.Error())
			case json.Unmarshal(r.body, &row) != nil || row.Status != "lost":
				miss = append(miss, "the sandbox is "+r.String())
			default:
				out.lostAt = time.Since(cut)
			}
		}
		out.miss = strings.Join(miss, "; ")
		if out.miss == "" || time.Since(cut) > d {
			return out
		}
		select {
		case <-stop:
			return out
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// refusal is what the minority answered to creates sent from the cut on.
type refusal struct {
	r              resp
	sent, answered time.Duration // since the cut, of the create refused
	log            []string
	err            error
}

// refuse sends creates through n until one answers 503, at most for 30 s
// after cut. A create sent in the first instant may still be placed by the
// stepping-down leader: such a sandbox is killed and the create sent again.
// It runs on its own goroutine and never fails the test itself.
func refuse(n *pnode, cut time.Time) (out refusal) {
	for {
		sent := time.Since(cut)
		r, err := n.call("POST", "/v1/sandboxes", map[string]any{"template": "base", "memory_mb": 64}, 20*time.Second)
		at := time.Since(cut)
		switch {
		case err != nil:
			out.log = append(out.log, fmt.Sprintf("create through %s sent at %s: %v", n.name, sent.Round(time.Millisecond), err))
		case r.status == http.StatusServiceUnavailable:
			out.r, out.sent, out.answered = r, sent, at
			return out
		case r.status == http.StatusCreated:
			var sb clusterSandbox
			_ = json.Unmarshal(r.body, &sb)
			kill, err := n.call("DELETE", "/v1/sandboxes/"+sb.ID, nil, 20*time.Second)
			out.log = append(out.log, fmt.Sprintf("create through %s sent at %s was still placed (on %s); killing it: %s %v",
				n.name, sent.Round(time.Millisecond), sb.NodeID, kill, err))
		default:
			out.log = append(out.log, fmt.Sprintf("create through %s sent at %s: %s", n.name, sent.Round(time.Millisecond), r))
		}
		if time.Since(cut) > 30*time.Second {
			out.err = fmt.Errorf("no 503 within 30 s of the cut")
			return out
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// execOut runs cmd in sandbox sb through n and returns its stdout.
func execOut(t *testing.T, n *pnode, sb, cmd string) string {
	t.Helper()
	r := n.must(t, "POST", "/v1/sandboxes/"+sb+"/exec", map[string]any{"cmd": cmd})
	if r.status != 200 {
		t.Fatalf("exec %q in %s through %s: %s", cmd, sb, n.name, r)
	}
	var ex execResult
	r.decode(t, &ex)
	return ex.Stdout
}

// hasLink reports whether ns holds the interface name.
func hasLink(t *testing.T, ns *nodetest.NetNS, name string) bool {
	t.Helper()
	out, err := ns.Command("ip", "-o", "link", "show").Output()
	if err != nil {
		t.Fatalf("ip link in %s: %v", ns.Name, err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.SplitN(line, ": ", 3); len(f) > 1 {
			if n, _, _ := strings.Cut(f[1], "@"); n == name {
				return true
			}
		}
	}
	return false
}
