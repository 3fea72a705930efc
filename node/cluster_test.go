package node_test

import (
	"bytes"
	"crypto/rand"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/cluster"
	"github.com/warrenhq/warren/node/nodetest"
	"github.com/warrenhq/warren/store/storetest"
)

type nodesJSON struct {
	Leader *string `json:"leader"`
	Nodes  []struct {
		ID        string `json:"id"`
		Role      string `json:"role"`
		Status    string `json:"status"`
		Sandboxes int    `json:"sandboxes"`
		Draining  bool   `json:"draining"`
	} `json:"nodes"`
}

type clusterSandbox struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	NodeID string `json:"node_id"`
	Error  string `json:"error"`
}

// eventually polls cond until it holds or d passes, and says how long it took.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	return within(t, d, what, func() string {
		if cond() {
			return ""
		}
		return "not yet"
	})
}

// TestCluster runs three servers and two non-server nodes over one database:
// membership and one leader everywhere, spreading creates, serving a sandbox
// through a node that does not own it, pulling a template image built
// elsewhere, losing a non-server node, and losing the leader.
func TestCluster(t *testing.T) {
	db := storetest.NewDatabase(t)
	key := cluster.GenerateKey()
	s1 := nodetest.Start(t, nodetest.WithDatabase(db), nodetest.WithCluster(key, true, 3))
	join := s1.GossipAddr()
	s2 := nodetest.Start(t, nodetest.WithDatabase(db), nodetest.WithCluster(key, true, 3, join))
	s3 := nodetest.Start(t, nodetest.WithDatabase(db), nodetest.WithCluster(key, true, 3, join))
	c1 := nodetest.Start(t, nodetest.WithDatabase(db), nodetest.WithCluster(key, false, 0, join))
	c2 := nodetest.Start(t, nodetest.WithDatabase(db), nodetest.WithCluster(key, false, 0, join))
	all := []*nodetest.Node{s1, s2, s3, c1, c2}
	admin := s1.APIKey
	clients := map[*nodetest.Node]*api{}
	for _, n := range all {
		clients[n] = &api{url: n.URL, key: admin}
	}
	byID := map[string]*nodetest.Node{}
	for _, n := range all {
		byID[n.ID.String()] = n
	}

	view := func(n *nodetest.Node) nodesJSON {
		var v nodesJSON
		r := clients[n].do(t, "GET", "/v1/admin/nodes", nil)
		if r.status != 200 {
			t.Fatalf("nodes on %s: %s", n.ID, r)
		}
		r.decode(t, &v)
		return v
	}
	// Every node lists all five, alive, and names the same leader.
	took := eventually(t, 30*time.Second, "5 alive members and one leader on every node", func() bool {
		var leader string
		for _, n := range all {
			v := view(n)
			alive := 0
			for _, m := range v.Nodes {
				if m.Status == "alive" {
					alive++
				}
			}
			if alive != 5 || v.Leader == nil || (leader != "" && *v.Leader != leader) {
				return false
			}
			leader = *v.Leader
		}
		return true
	})
	t.Logf("cluster formed: 5 members, one leader, in %s", took)

	// 20 sandboxes created through one non-server node spread over the nodes.
	via := clients[c1]
	perNode := map[string][]string{}
	for i := range 20 {
		r := via.do(t, "POST", "/v1/sandboxes", map[string]any{"template": "base", "memory_mb": 64})
		if r.status != http.StatusCreated {
			t.Fatalf("create %d: %s", i, r)
		}
		var sb clusterSandbox
		r.decode(t, &sb)
		if sb.Status != "running" || byID[sb.NodeID] == nil {
			t.Fatalf("create %d: %+v", i, sb)
		}
		perNode[sb.NodeID] = append(perNode[sb.NodeID], sb.ID)
	}
	t.Logf("20 sandboxes over %d nodes: %v", len(perNode), counts(perNode))
	if len(perNode) < 3 {
		t.Fatalf("20 sandboxes landed on only %d nodes", len(perNode))
	}
	// Exec and files on each sandbox through a node that does not own it.
	payload := make([]byte, 1<<20)
	rand.Read(payload)
	for owner, ids := range perNode {
		other := s1
		if owner == s1.ID.String() {
			other = s2
		}
		a := clients[other]
		for _, sb := range ids {
			var ex execResult
			r := a.do(t, "POST", "/v1/sandboxes/"+sb+"/exec", map[string]any{"cmd": "echo hi-from-$(hostname)"})
			if r.status != 200 {
				t.Fatalf("exec %s (on %s) through %s: %s", sb, owner, other.ID, r)
			}
			r.decode(t, &ex)
			if ex.Stdout != "hi-from-sandbox\n" {
				t.Fatalf("exec through a non-owner: %+v", ex)
			}
			put := rawCall(t, a, "PUT", "/v1/sandboxes/"+sb+"/files?path=/tmp/blob", payload)
			if put.status != 200 {
				t.Fatalf("upload through a non-owner: %s", put)
			}
			get := rawCall(t, a, "GET", "/v1/sandboxes/"+sb+"/files?path=/tmp/blob", nil)
			if get.status != 200 || !bytes.Equal(get.body, payload) {
				t.Fatalf("download through a non-owner: %d, %d bytes", get.status, len(get.body))
			}
		}
	}
	for _, ids := range perNode {
		for _, sb := range ids {
			if r := via.do(t, "DELETE", "/v1/sandboxes/"+sb, nil); r.status != 200 {
				t.Fatalf("kill %s: %s", sb, r)
			}
		}
	}

	// A template built on one node starts a sandbox on another: the image is
	// pulled from the builder's node and verified.
	var bld struct {
		ID, Status, NodeID, TemplateID string
	}
	r := clients[s2].do(t, "POST", "/v1/admin/builds", map[string]any{"name": "clustered", "recipe": []string{"echo built-here > /opt-marker"}})
	if r.status != 201 {
		t.Fatalf("build: %s", r)
	}
	r.decode(t, &bld)
	eventually(t, 60*time.Second, "build to finish", func() bool {
		r := clients[s2].do(t, "GET", "/v1/admin/builds/"+bld.ID, nil)
		var b struct {
			Status     string `json:"status"`
			NodeID     string `json:"node_id"`
			TemplateID string `json:"template_id"`
			Error      string `json:"error"`
		}
		r.decode(t, &b)
		if b.Status == "failed" || b.Status == "cancelled" {
			t.Fatalf("build %s: %s", b.Status, b.Error)
		}
		bld.Status, bld.NodeID, bld.TemplateID = b.Status, b.NodeID, b.TemplateID
		return b.Status == "succeeded"
	})
	builtOn := byID[bld.NodeID]
	if builtOn == nil {
		t.Fatalf("build ran on unknown node %q", bld.NodeID)
	}
	// Drain the builder's node so the scheduler must place elsewhere.
	if r := clients[s1].do(t, "POST", "/v1/admin/nodes/"+bld.NodeID+"/drain", nil); r.status != 200 {
		t.Fatalf("drain: %s", r)
	}
	r = clients[s1].do(t, "POST", "/v1/sandboxes", map[string]any{"template": "clustered"})
	if r.status != 201 {
		t.Fatalf("create from a template built elsewhere: %s", r)
	}
	var pulled clusterSandbox
	r.decode(t, &pulled)
	if pulled.NodeID == bld.NodeID {
		t.Fatalf("placed on the drained node %s", bld.NodeID)
	}
	var ex execResult
	clients[s1].do(t, "POST", "/v1/sandboxes/"+pulled.ID+"/exec", map[string]any{"cmd": "cat /opt-marker"}).decode(t, &ex)
	if ex.Stdout != "built-here\n" {
		t.Fatalf("sandbox on %s from a pulled template: %+v", pulled.NodeID, ex)
	}
	clients[s1].do(t, "DELETE", "/v1/sandboxes/"+pulled.ID, nil)
	clients[s1].do(t, "POST", "/v1/admin/nodes/"+bld.NodeID+"/undrain", nil)
	// Deleting the template removes its image from every node that holds it.
	images := []string{
		filepath.Join(builtOn.DataDir, "pool", "images", bld.TemplateID+".img"),
		filepath.Join(byID[pulled.NodeID].DataDir, "pool", "images", bld.TemplateID+".img"),
	}
	for _, p := range images {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("replica image %s: %v", p, err)
		}
	}
	if r := clients[c1].do(t, "DELETE", "/v1/templates/"+bld.TemplateID, nil); r.status != 204 {
		t.Fatalf("delete template: %s", r)
	}
	for _, p := range images {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Fatalf("image %s still there after the template was deleted (%v)", p, err)
		}
	}

	// Losing a non-server node: its sandboxes become lost within 10 s and
	// nothing new is placed on it.
	var onC2 []string
	for len(onC2) == 0 {
		r := clients[c2].do(t, "POST", "/v1/sandboxes", map[string]any{"template": "base", "memory_mb": 64})
		var sb clusterSandbox
		r.decode(t, &sb)
		if sb.NodeID == c2.ID.String() {
			onC2 = append(onC2, sb.ID)
		} else {
			clients[s1].do(t, "DELETE", "/v1/sandboxes/"+sb.ID, nil)
		}
	}
	c2.Kill()
	killed := time.Now()
	eventually(t, 10*time.Second, "the dead node's sandbox to be lost", func() bool {
		var sb clusterSandbox
		clients[s1].do(t, "GET", "/v1/sandboxes/"+onC2[0], nil).decode(t, &sb)
		return sb.Status == "lost"
	})
	t.Logf("non-server node killed: its sandbox lost after %s", time.Since(killed))
	for i := range 6 {
		var sb clusterSandbox
		r := clients[s3].do(t, "POST", "/v1/sandboxes", map[string]any{"template": "base", "memory_mb": 64})
		if r.status != 201 {
			t.Fatalf("create %d after a node died: %s", i, r)
		}
		r.decode(t, &sb)
		if sb.NodeID == c2.ID.String() {
			t.Fatalf("a sandbox was placed on the dead node")
		}
		clients[s3].do(t, "DELETE", "/v1/sandboxes/"+sb.ID, nil)
	}

	// Losing the leader: a new leader within 5 s; creates keep working; a
	// build the leader was running fails cleanly (never stays running).
	leader := *view(s3).Leader
	old := byID[leader]
	others := []string{}
	for _, n := range []*nodetest.Node{s1, s2, s3, c1} {
		if n != old {
			others = append(others, n.ID.String())
		}
	}
	for _, o := range others { // builds go to the leader only, for now
		clients[s3].do(t, "POST", "/v1/admin/nodes/"+o+"/drain", nil)
	}
	r = clients[old].do(t, "POST", "/v1/admin/builds", map[string]any{"name": "interrupted", "recipe": []string{"sleep 30"}})
	if r.status != 201 {
		t.Fatalf("build: %s", r)
	}
	var cut struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		NodeID string `json:"node_id"`
		Error  string `json:"error"`
	}
	r.decode(t, &cut)
	eventually(t, 20*time.Second, "the build to run on the leader", func() bool {
		clients[old].do(t, "GET", "/v1/admin/builds/"+cut.ID, nil).decode(t, &cut)
		return cut.Status == "running" && cut.NodeID == leader
	})
	for _, o := range others {
		clients[s3].do(t, "POST", "/v1/admin/nodes/"+o+"/undrain", nil)
	}
	old.Kill()
	killed = time.Now()
	survivors := []*nodetest.Node{}
	for _, n := range []*nodetest.Node{s1, s2, s3, c1} {
		if n != old {
			survivors = append(survivors, n)
		}
	}
	took = eventually(t, 5*time.Second, "a new leader", func() bool {
		v := view(survivors[0])
		return v.Leader != nil && *v.Leader != leader
	})
	t.Logf("leader %s killed: new leader after %s", leader, took)
	r = clients[survivors[0]].do(t, "POST", "/v1/sandboxes", map[string]any{"template": "base", "memory_mb": 64})
	if r.status != 201 {
		t.Fatalf("create after the leader died: %s", r)
	}
	took = eventually(t, 20*time.Second, "the dead leader's build to fail", func() bool {
		clients[survivors[0]].do(t, "GET", "/v1/admin/builds/"+cut.ID, nil).decode(t, &cut)
		return cut.Status != "running" && cut.Status != "queued"
	})
	if cut.Status != "failed" || !strings.Contains(cut.Error, "lost") {
		t.Fatalf("the dead leader's build: %s %q", cut.Status, cut.Error)
	}
	t.Logf("the dead leader's build failed %s after the kill: %q", time.Since(killed), cut.Error)
	var after clusterSandbox
	r.decode(t, &after)
	clients[survivors[0]].do(t, "DELETE", "/v1/sandboxes/"+after.ID, nil)
}

func counts(m map[string][]string) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		out[k[len(k)-4:]] = len(v)
	}
	return out
}

// rawCall sends a raw body and returns the raw answer.
func rawCall(t *testing.T, a *api, method, path string, body []byte) resp {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, _ := http.NewRequest(method, a.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+a.key)
	res, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, header: res.Header, body: b}
}
