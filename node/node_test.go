package node_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/node/nodetest"
	"github.com/warrenhq/warren/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// TestDevNodeServesSandboxes is the smoke test of a whole node: the bootstrap
// key works, the base template exists, and a sandbox runs a command.
func TestDevNodeServesSandboxes(t *testing.T) {
	t.Parallel()
	n := nodetest.Start(t)
	call := func(method, path, body string, out any) int {
		t.Helper()
		req, _ := http.NewRequest(method, n.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+n.APIKey)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if out != nil {
			if err := json.NewDecoder(res.Body).Decode(out); err != nil {
				t.Fatal(err)
			}
		}
		return res.StatusCode
	}
	var sb struct{ ID, Status string }
	if code := call("POST", "/v1/sandboxes", `{"template":"base","disk_size_mb":2048}`, &sb); code != 201 || sb.Status != "running" {
		t.Fatalf("create: %d %+v", code, sb)
	}
	var ex struct {
		Stdout   string
		ExitCode int `json:"exit_code"`
	}
	if code := call("POST", "/v1/sandboxes/"+sb.ID+"/exec", `{"cmd":"echo hi"}`, &ex); code != 200 || ex.Stdout != "hi\n" || ex.ExitCode != 0 {
		t.Fatalf("exec: %d %+v", code, ex)
	}
	// A sandbox with internet access resolves names through the host's
	// (non-loopback) resolvers.
	if code := call("POST", "/v1/sandboxes/"+sb.ID+"/exec", `{"cmd":"cat /etc/resolv.conf"}`, &ex); code != 200 {
		t.Fatalf("resolv.conf: %d", code)
	}
	hostConf, _ := os.ReadFile("/etc/resolv.conf")
	for _, line := range strings.Split(string(hostConf), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == "nameserver" && !strings.HasPrefix(f[1], "127.") && strings.Contains(f[1], ".") {
			if !strings.Contains(ex.Stdout, "nameserver "+f[1]) {
				t.Errorf("sandbox resolv.conf %q lacks the host's nameserver %s", ex.Stdout, f[1])
			}
		}
	}
	if code := call("DELETE", "/v1/sandboxes/"+sb.ID, "", &sb); code != 200 || sb.Status != "killed" {
		t.Fatalf("kill: %d %+v", code, sb)
	}
}

// A live row of this node with no sandbox behind it — a create whose last
// write failed while Postgres was down, or a sandbox that vanished — is ended
// by the node's reconcile loop.
func TestRowsWithoutSandboxesAreReconciled(t *testing.T) {
	t.Parallel()
	n := nodetest.Start(t)
	ctx := context.Background()
	st := n.Store()
	var team, tpl string
	if err := st.Pool.QueryRow(ctx, `SELECT team_id::text, id::text FROM templates LIMIT 1`).Scan(&team, &tpl); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{} // sandbox id (uuid) -> the status it starts in
	for _, status := range []string{"creating", "running"} {
		var sid string
		err := st.Pool.QueryRow(ctx, `INSERT INTO sandboxes (id, team_id, node_id, template_id, template_name, status, vcpus, memory_mb, timeout_sec, created_at)
			VALUES (gen_random_uuid(), $1, $2, $3, 'base', $4, 1, 64, 300, now() - interval '1 minute') RETURNING id::text`,
			team, n.ID.UUID(), tpl, status).Scan(&sid)
		if err != nil {
			t.Fatal(err)
		}
		ids[sid] = status
	}
	want := map[string]string{"creating": "failed", "running": "lost"}
	deadline := time.Now().Add(15 * time.Second)
	for sid, from := range ids {
		for {
			var status string
			if err := st.Pool.QueryRow(ctx, `SELECT status FROM sandboxes WHERE id = $1`, sid).Scan(&status); err != nil {
				t.Fatal(err)
			}
			if status == want[from] {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("a %s row without a sandbox is still %s", from, status)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}
