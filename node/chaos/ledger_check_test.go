package chaos_test

import (
	"reflect"
	"strings"
	"testing"
)

// TestCheckFindsBrokenLedger feeds the checker a made-up ledger and made-up
// observations that break each rule once: it must count each breach and
// name it.
func TestCheckFindsBrokenLedger(t *testing.T) {
	calls := []call{
		{What: "create", Node: "s1", Sandbox: "sb-ok", Status: 201},
		{What: "create", Node: "s1", Sandbox: "sb-missing", Status: 201},
		{What: "create", Node: "s2", Sandbox: "sb-doubled", Status: 201},
		{What: "create", Node: "c1", Sandbox: "sb-lost", Status: 201},
		{What: "create", Node: "c1", Sandbox: "sb-silent", Status: 201},
		{What: "create", Node: "c2", Status: 503, Err: "no leader"},
		{What: "exec", Node: "c2", Sandbox: "sb-ok", Err: "connection refused"},
		{What: "build", Node: "s1", Build: "bld-1", Status: 201, BuildStatus: "queued"},
		{What: "poll", Node: "s1", Build: "bld-1", Status: 200, BuildStatus: "succeeded"},
		{What: "build", Node: "s1", Build: "bld-2", Status: 201, BuildStatus: "queued"},
		{What: "poll", Node: "s2", Build: "bld-2", Status: 200, BuildStatus: "succeeded"},
		{What: "poll", Node: "s3", Build: "bld-2", Status: 200, BuildStatus: "failed"},
	}
	obs := observed{
		Sandboxes: map[string]sandboxRow{
			"sb-ok":      {Status: "running", NodeID: "n1"},
			"sb-doubled": {Status: "running", NodeID: "n2"},
			"sb-lost":    {Status: "lost", Error: "node n3 is dead", NodeID: "n3"},
			"sb-silent":  {Status: "lost", NodeID: "n3"},
		},
		Builds:         map[string]string{"bld-1": "succeeded", "bld-2": "failed"},
		BuildTemplates: map[string]int{"bld-1": 1},
		Containers:     map[string][]string{"sb-ok": {"n1"}, "sb-doubled": {"n2", "n1"}},
		Orphans:        []string{"s3: netns w12345-sb-gone"},
	}
	v := check(calls, obs)
	want := verdict{Calls: 12, OK: 10, Refused: 1, Failed: 1, Told: 5, Present: 2, Lost: 1, Missing: 2, Doubled: 1,
		BuildsOK: 1, BuildsBoth: 1, Orphans: 1}
	got := v
	got.Problems = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("check = %+v\nwant    %+v", got, want)
	}
	all := strings.Join(v.Problems, "\n")
	for _, s := range []string{"sb-missing: told created, no row", "sb-silent: lost without a reason",
		"sb-doubled runs on 2 nodes", "bld-2 seen both", "orphaned host object s3: netns"} {
		if !strings.Contains(all, s) {
			t.Errorf("problems lack %q:\n%s", s, all)
		}
	}
	if len(v.Problems) != 5 {
		t.Errorf("%d problems, want 5:\n%s", len(v.Problems), all)
	}
	if s := v.Summary(); !strings.Contains(s, "missing 2; doubled 1; builds ok 1/failed 0/both 1; orphans 1") {
		t.Errorf("summary %q", s)
	}

	// A build that made two templates succeeded twice.
	obs.BuildTemplates["bld-1"] = 2
	if v := check(calls, obs); v.BuildsBoth != 2 {
		t.Errorf("two templates of one build: both = %d, want 2", v.BuildsBoth)
	}
	// A clean ledger passes.
	clean := check(calls[:1], observed{Sandboxes: map[string]sandboxRow{"sb-ok": {Status: "killed", NodeID: "n1"}}})
	if len(clean.Problems) != 0 || clean.Present != 1 {
		t.Errorf("clean ledger: %+v", clean)
	}
}
