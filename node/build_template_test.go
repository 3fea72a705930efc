package node_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/node/nodetest"
)

// TestBuildTemplates builds both kinds of template on one node.
func TestBuildTemplates(t *testing.T) {
	t.Parallel()
	n := nodetest.Start(t)
	c := newBClient(n)
	t.Run("image-only", func(t *testing.T) { buildImageTemplate(t, n, c) })
	t.Run("snapshot", func(t *testing.T) { buildSnapshotTemplate(t, n, c) })
}

// buildImageTemplate: a 5-step recipe makes an image-only platform template
// whose files a new sandbox sees, whose size is the stored image's, with one
// complete log entry per step.
func buildImageTemplate(t *testing.T, n *nodetest.Node, c *bclient) {
	base := hostOf(t, n)
	recipe := []string{
		"mkdir -p /opt/app && echo one > /opt/app/1",
		"echo two > /opt/app/2; echo to-stdout",
		"echo three > /opt/app/3; echo to-stderr >&2",
		"dd if=/dev/urandom of=/opt/app/blob bs=1k count=512 2>/dev/null",
		"cd /opt/app && md5sum 1 2 3 blob > sums && cat sums",
	}
	b := c.submit(t, map[string]any{"name": "img5", "recipe": recipe, "disk_size_mb": 1024})
	if b.TotalSteps != 5 || b.CurrentStep != 0 {
		t.Fatalf("queued build: %+v", b)
	}
	b = c.finish(t, b.ID, "succeeded", 90*time.Second)
	if b.CurrentStep != b.TotalSteps || b.TotalSteps != 5 {
		t.Errorf("current_step %d, total_steps %d, want 5/5", b.CurrentStep, b.TotalSteps)
	}
	if len(b.Logs) != 5 {
		t.Fatalf("%d log entries, want 5: %+v", len(b.Logs), b.Logs)
	}
	for i, l := range b.Logs {
		if l.Step != i+1 || l.Cmd == nil || *l.Cmd != recipe[i] || l.Stdout == nil || l.Stderr == nil ||
			l.ExitCode == nil || *l.ExitCode != 0 || l.ElapsedMS == nil || *l.ElapsedMS < 0 {
			t.Errorf("log entry %d: %+v", i, l)
		}
		if st, err := time.Parse(time.RFC3339Nano, l.StartedAt); err != nil || st.Before(b.CreatedAt.Add(-time.Second)) {
			t.Errorf("log entry %d: started_at %q: %v", i, l.StartedAt, err)
		}
	}
	if *b.Logs[1].Stdout != "to-stdout\n" || *b.Logs[2].Stderr != "to-stderr\n" {
		t.Errorf("step output: stdout %q, stderr %q", *b.Logs[1].Stdout, *b.Logs[2].Stderr)
	}
	sums := *b.Logs[4].Stdout

	tpl, ok := c.templates(t)["img5"]
	if !ok {
		t.Fatal("no template img5 in GET /v1/admin/templates")
	}
	if tpl.Type != "image" || !tpl.Platform || tpl.BuildID != b.ID || tpl.ID != b.TemplateID || tpl.Replicas != 1 || tpl.StartCmd != "" {
		t.Errorf("template: %+v (build %s)", tpl, b.ID)
	}
	if tpl.SizeBytes <= 0 || tpl.SizeBytes != b.SizeBytes {
		t.Errorf("template size_bytes %d, build size_bytes %d", tpl.SizeBytes, b.SizeBytes)
	}
	// The stored image: its apparent size is the template's size.
	fi, err := os.Stat(filepath.Join(n.DataDir, "pool", "images", tpl.ID+".img"))
	if err != nil {
		t.Fatalf("the template's image: %v", err)
	}
	if fi.Size() != tpl.SizeBytes {
		t.Errorf("image file is %d bytes, template size_bytes %d", fi.Size(), tpl.SizeBytes)
	}
	tid, err := id.ParseTemplateID(tpl.ID)
	if err != nil {
		t.Fatal(err)
	}
	reps, err := n.Store().ListTemplateReplicas(context.Background(), tid)
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != 1 || reps[0].Bytes != tpl.SizeBytes || reps[0].NodeID != n.ID {
		t.Errorf("replicas %+v, want one of %d bytes on %s", reps, tpl.SizeBytes, n.ID)
	}

	// A sandbox from it (by name, as any team sees platform templates).
	sb := c.newSandbox(t, "img5")
	code, out, errOut := c.sh(t, sb, "cd /opt/app && cat 1 2 3 && md5sum 1 2 3 blob")
	if code != 0 || out != "one\ntwo\nthree\n"+sums {
		t.Errorf("files in a sandbox from img5: exit %d, stdout %q (want sums %q), stderr %q", code, out, sums, errOut)
	}
	c.call(t, "DELETE", "/v1/sandboxes/"+sb, nil)

	// Built templates are platform templates: another team lists and uses it.
	_, _, key := memberCredentials(t, c)
	member := &bclient{n: n, url: n.URL, key: key}
	r := member.call(t, "GET", "/v1/templates", nil)
	var mine struct{ Items []templateJSON }
	r.into(t, &mine)
	if !slices.ContainsFunc(mine.Items, func(x templateJSON) bool { return x.Name == "img5" && x.Platform && x.Type == "image" }) {
		t.Errorf("another team's GET /v1/templates: %s", r)
	}
	msb := member.newSandbox(t, "img5")
	if code, out, _ := member.sh(t, msb, "cat /opt/app/3"); code != 0 || out != "three\n" {
		t.Errorf("another team's sandbox from img5: exit %d, %q", code, out)
	}
	member.call(t, "DELETE", "/v1/sandboxes/"+msb, nil)

	// The build sandbox is gone; nothing but the image stays.
	after := hostOf(t, n).minus(base)
	if len(after) != 1 || len(after["pool/images"]) != 1 || after["pool/images"][0] != tpl.ID+".img" {
		t.Errorf("host objects after the build: %s, want only the image %s.img", after, tpl.ID)
	}
}

// buildSnapshotTemplate: with start_cmd and healthcheck the build makes a
// snapshot template; a sandbox from it serves on the port as soon as its
// create call returns.
func buildSnapshotTemplate(t *testing.T, n *nodetest.Node, c *bclient) {
	start := "busybox httpd -f -p 8080 -h /www"
	hc := map[string]any{"cmd": "wget -q -O- http://127.0.0.1:8080/", "interval_sec": 1, "timeout_sec": 2, "retries": 10}
	b := c.submit(t, map[string]any{"name": "web", "disk_size_mb": 1024,
		"recipe":    []string{"mkdir -p /www && echo hello-from-web > /www/index.html"},
		"start_cmd": start, "healthcheck": hc})
	b = c.finish(t, b.ID, "succeeded", 90*time.Second)
	tpl, ok := c.templates(t)["web"]
	if !ok {
		t.Fatal("no template web")
	}
	var gotHC map[string]any
	_ = json.Unmarshal(tpl.Healthcheck, &gotHC)
	if tpl.Type != "snapshot" || tpl.StartCmd != start || gotHC["cmd"] != hc["cmd"] || tpl.SizeBytes <= 0 || tpl.BuildID != b.ID {
		t.Fatalf("template: %+v", tpl)
	}

	sb := c.newSandbox(t, "web")
	// Right away, from inside...
	if code, out, errOut := c.sh(t, sb, "wget -q -O- http://127.0.0.1:8080/"); code != 0 || out != "hello-from-web\n" {
		t.Errorf("wget inside right after create: exit %d, %q, %q", code, out, errOut)
	}
	// ...and through the node's port proxy.
	req, _ := http.NewRequest("GET", n.URL+"/v1/sandboxes/"+sb+"/ports/8080/", nil)
	req.Header.Set("Authorization", "Bearer "+n.APIKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || strings.TrimSpace(string(body)) != "hello-from-web" {
		t.Errorf("GET ports/8080/: %d %q", res.StatusCode, body)
	}
}
