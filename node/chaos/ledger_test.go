package chaos_test

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// call is one client call of the chaos test and its answer: what was asked
// (create, exec, kill, build, poll), of which node, about which sandbox or
// build, and what came back (the HTTP status, 0 for a transport error, and
// the error text; for a build poll the build's status).
type call struct {
	At          time.Duration
	Node        string
	What        string
	Sandbox     string
	Build       string
	Status      int
	BuildStatus string
	Err         string
}

// ledger is the chaos test's record of every client call, safe for the load
// goroutines.
type ledger struct {
	mu    sync.Mutex
	start time.Time
	calls []call
}

func newLedger() *ledger { return &ledger{start: time.Now()} }

func (l *ledger) add(c call) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c.At = time.Since(l.start)
	l.calls = append(l.calls, c)
}

func (l *ledger) snapshot() []call {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]call(nil), l.calls...)
}

// sandboxRow is a sandbox's row in Postgres.
type sandboxRow struct {
	Status, Error, NodeID string
}

// observed is what the checker compares the ledger with: the sandbox and
// build rows in Postgres, the templates each build made, the nodes whose
// runc root holds a container of each sandbox, and the host objects left
// over once every sandbox ended.
type observed struct {
	Sandboxes      map[string]sandboxRow // sandbox ID → row
	Builds         map[string]string     // build ID → status
	BuildTemplates map[string]int        // build ID → templates with that build_id
	Containers     map[string][]string   // sandbox ID → node IDs running a container of it
	Orphans        []string              // "<node>: <kind> <name>"
}

// verdict is the outcome of checking a ledger: counts, and a line for each
// broken rule (empty when every rule held).
type verdict struct {
	Calls, OK, Refused, Failed int
	Told, Present, Lost        int
	Missing, Doubled           int
	BuildsOK, BuildsFailed     int
	BuildsBoth                 int
	Orphans                    int
	Problems                   []string
}

// Summary is the one line the test prints.
func (v verdict) Summary() string {
	return fmt.Sprintf("chaos: calls %d (2xx %d, refused %d, failed %d); sandboxes told %d: present %d, lost-with-reason %d, missing %d; doubled %d; builds ok %d/failed %d/both %d; orphans %d",
		v.Calls, v.OK, v.Refused, v.Failed, v.Told, v.Present, v.Lost, v.Missing, v.Doubled,
		v.BuildsOK, v.BuildsFailed, v.BuildsBoth, v.Orphans)
}

// check holds the ledger against what Postgres and the hosts show:
//   - every sandbox a create answered 201 for has a row; a lost or failed
//     row carries its reason; a running or paused row has its container on
//     its node (else it is missing);
//   - no sandbox has a container on two nodes, or on a node other than its
//     row's, and no two creates were answered with one ID (else doubled);
//   - no build was seen (polled or in its row) both succeeded and failed,
//     and none made more than one template;
//   - no host object outlived the sandboxes.
func check(calls []call, obs observed) verdict {
	var v verdict
	problem := func(format string, args ...any) { v.Problems = append(v.Problems, fmt.Sprintf(format, args...)) }
	told := map[string]int{}
	builds := map[string]map[string]bool{} // build ID → terminal statuses seen
	for _, c := range calls {
		v.Calls++
		switch {
		case c.Status == 0:
			v.Failed++
		case c.Status >= 200 && c.Status < 300:
			v.OK++
		default:
			v.Refused++
		}
		if c.What == "create" && c.Status == 201 && c.Sandbox != "" {
			told[c.Sandbox]++
		}
		if c.Build != "" && c.Status >= 200 && c.Status < 300 {
			if builds[c.Build] == nil {
				builds[c.Build] = map[string]bool{}
			}
			if c.BuildStatus == "succeeded" || c.BuildStatus == "failed" {
				builds[c.Build][c.BuildStatus] = true
			}
		}
	}
	ids := make([]string, 0, len(told))
	for sb := range told {
		ids = append(ids, sb)
	}
	sort.Strings(ids)
	for _, sb := range ids {
		v.Told++
		if told[sb] > 1 {
			v.Doubled++
			problem("sandbox %s: %d creates answered with its ID", sb, told[sb])
		}
		row, ok := obs.Sandboxes[sb]
		switch {
		case !ok:
			v.Missing++
			problem("sandbox %s: told created, no row in Postgres", sb)
		case row.Status == "lost" || row.Status == "failed":
			if strings.TrimSpace(row.Error) == "" {
				v.Missing++
				problem("sandbox %s: %s without a reason", sb, row.Status)
			} else {
				v.Lost++
			}
		case (row.Status == "running" || row.Status == "paused") && !contains(obs.Containers[sb], row.NodeID):
			v.Missing++
			problem("sandbox %s: %s on %s in Postgres, no container there", sb, row.Status, row.NodeID)
		default:
			v.Present++
		}
	}
	var cids []string
	for sb := range obs.Containers {
		cids = append(cids, sb)
	}
	sort.Strings(cids)
	for _, sb := range cids {
		nodes := obs.Containers[sb]
		row, ok := obs.Sandboxes[sb]
		switch {
		case len(nodes) > 1:
			v.Doubled++
			problem("sandbox %s runs on %d nodes: %v", sb, len(nodes), nodes)
		case ok && row.NodeID != "" && len(nodes) == 1 && nodes[0] != row.NodeID:
			v.Doubled++
			problem("sandbox %s runs on %s, its row says %s", sb, nodes[0], row.NodeID)
		}
	}
	var bids []string
	for b := range builds {
		bids = append(bids, b)
	}
	sort.Strings(bids)
	for _, b := range bids {
		seen := builds[b]
		if st := obs.Builds[b]; st == "succeeded" || st == "failed" {
			seen[st] = true
		}
		switch {
		case seen["succeeded"] && seen["failed"]:
			v.BuildsBoth++
			problem("build %s seen both succeeded and failed", b)
		case obs.BuildTemplates[b] > 1:
			v.BuildsBoth++
			problem("build %s succeeded twice: %d templates", b, obs.BuildTemplates[b])
		case seen["succeeded"]:
			v.BuildsOK++
		case seen["failed"]:
			v.BuildsFailed++
		}
	}
	v.Orphans = len(obs.Orphans)
	for _, o := range obs.Orphans {
		problem("orphaned host object %s", o)
	}
	return v
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
