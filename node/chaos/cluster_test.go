package chaos_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warrenhq/warren/cluster"
	"github.com/warrenhq/warren/node/nodetest"
)

// cnode is one `warren node` process of the chaos test, alone in its network
// namespace, cabled to the switch's bridge "lan" (or "iso" while cut off).
type cnode struct {
	name   string // s1…s3, w1, w2
	server bool
	ip     string
	ns     *nodetest.NetNS
	port   *nodetest.Port
	proc   *nodetest.Proc
	id     string
	prefix string
	base   hostState // the host objects of the node with no sandbox
	// down is set while the test has the node killed (the load goes on
	// calling it: those calls fail and are counted so).
	down atomic.Bool
}

// chaosCluster is the five nodes on one switch and the admin key.
type chaosCluster struct {
	nodes []*cnode
	sw    *nodetest.Switch
	key   string
}

// startCluster makes the switch, one namespace per node, and starts the
// three servers and two workers on db, waiting until every node sees all
// five alive and one leader.
func startCluster(t *testing.T, db string) *chaosCluster {
	sfx := nodetest.RandomSuffix(3)
	c := &chaosCluster{sw: nodetest.NewSwitch(t, "wch"+sfx+"-sw")}
	c.sw.Bridge("lan")
	c.sw.Bridge("iso")
	lan := fmt.Sprintf("172.30.%d", 16+rand.IntN(200)) // exists only inside the test's namespaces
	key := cluster.GenerateKey()
	for i, name := range []string{"s1", "s2", "s3", "w1", "w2"} {
		n := &cnode{name: name, server: name[0] == 's', ip: fmt.Sprintf("%s.%d", lan, 11+i)}
		n.ns = nodetest.NewNetNS(t, fmt.Sprintf("wch%s-%s", sfx, name))
		n.port = c.sw.Connect(n.ns, "lan", n.ip+"/24")
		args := []string{"--advertise", n.ip, "--gossip-addr", n.ip + ":7946", "--grpc-addr", n.ip + ":7948"}
		if n.server {
			args = append(args, "--server", "--bootstrap-expect", "3", "--raft-addr", n.ip+":7947")
		} else {
			args = append(args, "--server=false")
		}
		if i > 0 {
			args = append(args, "--join", c.nodes[0].ip+":7946")
		}
		n.proc = nodetest.NewProc(t, nodetest.ProcDatabase(db), nodetest.ProcInNetNS(n.ns, n.ip+":8080"),
			nodetest.ProcNetwork(fmt.Sprintf("wcb%s%d", sfx, i), fmt.Sprintf("10.78.%d.0/24", i)),
			nodetest.ProcArgs(args...), nodetest.ProcEnv("WARREN_CLUSTER_KEY="+key))
		c.nodes = append(c.nodes, n)
	}
	c.nodes[0].proc.Start() // the first node on the database makes the admin
	for _, n := range c.nodes[1:] {
		n.proc.Launch()
	}
	for _, n := range c.nodes[1:] {
		// Generous: five nodes preparing their base image on a shared
		// 2-core machine.
		if err := n.proc.WaitReady(5 * time.Minute); err != nil {
			t.Fatalf("%s: %v", n.name, err)
		}
	}
	c.key = c.nodes[0].proc.APIKey()
	for _, n := range c.nodes {
		n.id, n.prefix = n.proc.NodeID(), n.proc.HostPrefix()
	}
	if miss := c.await(time.Minute); miss != "" {
		t.Fatalf("the cluster did not form: %s", miss)
	}
	for _, n := range c.nodes {
		n.base = snapshotHost(n.proc.DataDir, n.prefix)
	}
	return c
}

// byID maps node IDs to nodes.
func (c *chaosCluster) byID(id string) *cnode {
	for _, n := range c.nodes {
		if n.id == id {
			return n
		}
	}
	return nil
}

// await polls until every node lists all five alive and names one leader,
// or d passes; it returns what was still missing ("" once it held).
func (c *chaosCluster) await(d time.Duration) string {
	deadline := time.Now().Add(d)
	for {
		miss := c.agreement()
		if miss == "" || time.Now().After(deadline) {
			return miss
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (c *chaosCluster) agreement() string {
	var leader string
	for _, n := range c.nodes {
		var v struct {
			Leader *string `json:"leader"`
			Nodes  []struct {
				ID, Status string
			} `json:"nodes"`
		}
		st, body, err := c.do(n, "GET", "/v1/admin/nodes", nil, 10*time.Second)
		if err != nil || st != 200 || json.Unmarshal(body, &v) != nil {
			return fmt.Sprintf("nodes on %s: %d %v %s", n.name, st, err, body)
		}
		alive := 0
		for _, m := range v.Nodes {
			if m.Status == "alive" {
				alive++
			}
		}
		if alive != len(c.nodes) {
			return fmt.Sprintf("%s sees %d alive", n.name, alive)
		}
		if v.Leader == nil || (leader != "" && *v.Leader != leader) {
			return n.name + " names no leader or another one"
		}
		leader = *v.Leader
	}
	return ""
}

// do sends body as JSON to n's API with the admin key, bounded by timeout,
// and returns the status and body (status 0 and the error on a transport
// failure).
func (c *chaosCluster) do(n *cnode, method, path string, body any, timeout time.Duration) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, n.proc.URL+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	res, err := n.proc.Client().Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, nil, err
	}
	return res.StatusCode, out, nil
}

// hostState is what a node holds on the host, by kind: entries of its
// sandboxes dir, mounts and loop devices (by backing file: a restarted node
// may get another device) under its data dir, netns with its prefix, and
// runc containers.
type hostState map[string][]string

func snapshotHost(dataDir, prefix string) hostState {
	h := hostState{}
	ents, _ := os.ReadDir(filepath.Join(dataDir, "sandboxes"))
	for _, e := range ents {
		if e.Name() != ".runc" {
			h["sandbox dir"] = append(h["sandbox dir"], e.Name())
		}
	}
	mounts, _ := os.ReadFile("/proc/mounts")
	for _, line := range strings.Split(string(mounts), "\n") {
		if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(f[1], dataDir+"/") {
			h["mount"] = append(h["mount"], f[1])
		}
	}
	if out, err := runOut("losetup", "--list", "--noheadings", "--output", "BACK-FILE"); err == nil {
		for _, line := range strings.Split(out, "\n") {
			if f := strings.TrimSpace(line); strings.HasPrefix(f, dataDir+"/") {
				h["loop"] = append(h["loop"], f)
			}
		}
	} else {
		h["losetup error"] = []string{err.Error()}
	}
	ns, _ := os.ReadDir("/run/netns")
	for _, e := range ns {
		if strings.HasPrefix(e.Name(), prefix+"-") {
			h["netns"] = append(h["netns"], e.Name())
		}
	}
	h["container"] = containers(dataDir)
	for k := range h {
		slices.Sort(h[k])
		h[k] = slices.Compact(h[k])
	}
	return h
}

// containers lists the runc containers in the node's runc root.
func containers(dataDir string) []string {
	var out []string
	ents, _ := os.ReadDir(filepath.Join(dataDir, "sandboxes", ".runc"))
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out
}

// leaksSince lists what h holds that base did not, as "<kind> <name>".
func (h hostState) leaksSince(base hostState) []string {
	var out []string
	for kind, items := range h {
		for _, it := range items {
			if !slices.Contains(base[kind], it) {
				out = append(out, kind+" "+it)
			}
		}
	}
	slices.Sort(out)
	return out
}
