package hardening_test

import (
	"strings"
	"testing"
)

// TestEgressRules: a team's own outbound rules (deny_out on a sandbox) hold
// against the sandbox's root, which tries to flush every nftables ruleset
// and delete the node's table over netlink, and against another team, which
// tries to replace them with PUT /v1/sandboxes/{id}/egress. Bad lists
// answer 400 naming the entry. Controls: without the rule the same host is
// reachable (the owner's own PUT removes it), and a team-allowed private
// address stays refused (the operator did not allow it).
func TestEgressRules(t *testing.T) {
	n, c := startNode(t)
	table := "warren_" + hostPrefix(t, n.Config.DataDir)
	denied := egressHost(t, "198.51.100.17", "198.51.100.18", 8080)
	open := egressHost(t, "198.51.100.21", "198.51.100.22", 8080)
	private := egressHost(t, "10.213.252.1", "10.213.252.2", 8080)
	admin := c
	other := newTeam(t, admin, "egress-intruder")
	intruder := c.withKey(other.key)

	sb := c.create(t, map[string]any{"allow_internet_access": true,
		"deny_out": []string{"198.51.100.16/30"}, "allow_out": []string{}})
	c.upload(t, sb, "/probe", probe(t), "0755")
	holds := func(when string) bool {
		t.Helper()
		d := runProbe(t, c, sb, "refused", denied)
		o := runProbe(t, c, sb, "refused", open)
		if !strings.HasPrefix(o, "ESCAPED connected") {
			t.Fatalf("control %s: an unlisted public host is not reachable: %s", when, o)
		}
		t.Logf("%s: denied host: %s", when, d)
		return strings.HasPrefix(d, "BLOCKED")
	}
	if !holds("at create") {
		t.Fatal("the sandbox's deny_out rule does not hold at create")
	}

	// The sandbox's root against its rules.
	got := runProbe(t, c, sb, "nftflush", table)
	attack(t, "egress-rules", "sandbox root flushes the nftables ruleset and deletes the node's table", holds("after the flush attempt"), got)

	// Another team against them.
	r := intruder.do(t, "PUT", "/v1/sandboxes/"+sb+"/egress", map[string]any{"allow_out": []string{}, "deny_out": []string{}})
	attack(t, "egress-rules", "another team replaces a sandbox's egress rules", r.status == 404 && holds("after another team's PUT"), r)
	r = intruder.do(t, "PUT", "/v1/sandboxes/"+sb+"/egress", map[string]any{"deny_out": []string{"198.51.100.20/30"}})
	attack(t, "egress-rules", "another team adds a deny rule to a sandbox", r.status == 404 && holds("after another team's second PUT"), r)

	// A team allow list does not open what the operator denies.
	r = c.do(t, "PUT", "/v1/sandboxes/"+sb+"/egress", map[string]any{"allow_out": []string{"10.213.252.0/30", "198.51.100.20/30"}})
	if r.status != 200 {
		t.Fatalf("owner PUT: %s", r)
	}
	got = runProbe(t, c, sb, "refused", private)
	attack(t, "egress-rules", "a team allows a private range the operator did not", strings.HasPrefix(got, "BLOCKED"), got)

	// Control: the owner's change applies to the running sandbox: with no
	// rules the formerly denied host connects.
	r = c.do(t, "PUT", "/v1/sandboxes/"+sb+"/egress", map[string]any{})
	var view struct {
		AllowOut []string `json:"allow_out"`
		DenyOut  []string `json:"deny_out"`
	}
	if r.decode(t, &view); r.status != 200 || view.DenyOut == nil || len(view.DenyOut)+len(view.AllowOut) != 0 {
		t.Fatalf("owner PUT without rules: %s (%+v)", r, view)
	}
	if got := runProbe(t, c, sb, "refused", denied); !strings.HasPrefix(got, "ESCAPED connected") {
		t.Fatalf("control: without the rule the denied host is still refused: %s", got)
	}

	// Bad lists: 400 naming the entry, nothing changed.
	for _, tc := range []struct {
		method, path string
		body         map[string]any
		field        string
	}{
		{"POST", "/v1/sandboxes", map[string]any{"template": "base", "allow_internet_access": true, "deny_out": []string{"8.8.8.8", "fd00::/8"}}, "deny_out[1]"},
		{"POST", "/v1/sandboxes", map[string]any{"template": "base", "allow_out": []string{"*.example.com"}}, "allow_out[0]"},
		{"PUT", "/v1/sandboxes/" + sb + "/egress", map[string]any{"allow_out": []string{"ok.example.com", "10.0.0.1/8", "x"}}, "allow_out[1]"},
		{"PUT", "/v1/sandboxes/" + sb + "/egress", map[string]any{"deny_out": strings.Split(strings.Repeat("1.2.3.4,", 65), ",")}, "deny_out"},
		{"PUT", "/v1/sandboxes/" + sb + "/egress", map[string]any{"allow_out": "1.2.3.4"}, "allow_out"},
	} {
		r := c.do(t, tc.method, tc.path, tc.body)
		badInput(t, "egress-rules", tc.method+" "+tc.field, r.clean4xx() && r.status == 400 && strings.Contains(r.String(), tc.field), r)
	}
	if got := runProbe(t, c, sb, "refused", denied); !strings.HasPrefix(got, "ESCAPED connected") {
		t.Errorf("a refused PUT changed the rules: %s", got)
	}
}
