package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseRecipe(t *testing.T) {
	full := `name: py
base_template: base
steps:
  - apt-get update
  - apt-get install -y python3
start_cmd: python3 -m http.server 8000
healthcheck:
  cmd: wget -q -O- http://127.0.0.1:8000/
  interval_sec: 2
  timeout_sec: 5
  retries: 10
  start_period_sec: 1
vcpus: 2
memory_mb: 1024
disk_size_mb: 8192
step_timeout_sec: 600
`
	b, err := parseRecipe("r.yaml", strings.NewReader(full))
	if err != nil {
		t.Fatal(err)
	}
	if b.Name != "py" || b.BaseTemplate != "base" || len(b.Recipe) != 2 || b.StartCmd == "" || b.Healthcheck == nil ||
		b.Healthcheck.Retries != 10 || b.Healthcheck.StartPeriodSec != 1 || b.VCPUs != 2 || b.MemoryMB != 1024 ||
		b.DiskSizeMB != 8192 || b.StepTimeoutSec != 600 {
		t.Fatalf("parsed %+v (healthcheck %+v)", b, b.Healthcheck)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"", "empty"},
		{"steps: [ls]", "name: is required"},
		{"name: x", "steps: at least one"},
		{"name: x\nsteps: [ls, '  ']", "steps[1]: is empty"},
		{"name: x\nsteps: [ls]\nstart_command: y", "field start_command not found"},
		{"name: x\nsteps: [ls]\nhealthcheck: {cmd: true}", "healthcheck: needs start_cmd"},
		{"name: x\nsteps: [ls]\nstart_cmd: s\nhealthcheck: {interval_sec: 1}", "healthcheck.cmd"},
		{"name: [", "r.yaml"},
	} {
		if _, err := parseRecipe("r.yaml", strings.NewReader(tc.yaml)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.yaml, err, tc.want)
		}
	}
}

func TestSplitRemote(t *testing.T) {
	for in, want := range map[string][2]string{
		"sb-01a2-ff:/tmp/x": {"sb-01a2-ff", "/tmp/x"},
		"sb-1:/a:b":         {"sb-1", "/a:b"},
		"sb-1:":             {"sb-1", ""},
		"./sb-1:/x":         {},
		"/tmp/file":         {},
		"C:/windows":        {},
		"tpl-1:/x":          {},
	} {
		sb, p, ok := splitRemote(in)
		if ok != (want[0] != "") || sb != want[0] || p != want[1] {
			t.Errorf("splitRemote(%q) = %q %q %v", in, sb, p, ok)
		}
	}
}

func TestProgressBarRender(t *testing.T) {
	p := newProgressBar(nil, "upload f")
	p.width = 10
	for _, tc := range []struct {
		done, total int64
		unit, want  string
	}{
		{0, 100, "steps", "upload f [>         ] 0/100"},
		{50, 100, "steps", "upload f [=====>    ] 50/100"},
		{100, 100, "steps", "upload f [==========] 100/100"},
		{3 << 20, 4 << 20, "bytes", "upload f [=======>  ]  75% 3.0 MiB/4.0 MiB"},
		{2048, -1, "bytes", "upload f 2.0 KiB"},
		{7, 0, "steps", "upload f 7"},
	} {
		if got := p.render(tc.done, tc.total, tc.unit); got != tc.want {
			t.Errorf("render(%d, %d) = %q, want %q", tc.done, tc.total, got, tc.want)
		}
	}
}

// TestCredentialsPrecedence: flag beats env beats the stored config.
func TestCredentialsPrecedence(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	t.Setenv("WARREN_URL", "")
	t.Setenv("WARREN_API_KEY", "")
	path, err := saveConfig(clientConfig{URL: "http://file:1/", APIKey: "wk_file"})
	if err != nil || path != filepath.Join(dir, "warren", "config.json") {
		t.Fatalf("saved to %s: %v", path, err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("config mode %o", fi.Mode().Perm())
	}
	f := &clientFlags{}
	if u, k, _ := f.credentials(); u != "http://file:1" || k != "wk_file" {
		t.Fatalf("from the file: %s %s", u, k)
	}
	t.Setenv("WARREN_URL", "http://env:2")
	t.Setenv("WARREN_API_KEY", "wk_env")
	if u, k, _ := f.credentials(); u != "http://env:2" || k != "wk_env" {
		t.Fatalf("from the env: %s %s", u, k)
	}
	f.url, f.apiKey = "http://flag:3", "wk_flag"
	if u, k, _ := f.credentials(); u != "http://flag:3" || k != "wk_flag" {
		t.Fatalf("from the flags: %s %s", u, k)
	}
	f.output = "yaml"
	if _, err := f.client(); err == nil || !strings.Contains(err.Error(), "--output") {
		t.Fatalf("bad -o: %v", err)
	}
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("HOME", dir)
	if p, _ := configPath(); p != filepath.Join(dir, ".config", "warren", "config.json") {
		t.Fatalf("without XDG_CONFIG_HOME: %s", p)
	}
}
