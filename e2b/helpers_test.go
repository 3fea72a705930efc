package e2b_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/warrenhq/warren/node/nodetest"
	"github.com/warrenhq/warren/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// sdkVersion is the E2B SDK the suite runs, pinned.
const sdkVersion = "2.51.0"

// installSDK returns a directory whose node_modules holds e2b@sdkVersion,
// installed with npm on first use into the user's cache
// (WARREN_E2B_SDK_DIR overrides it) and reused by version afterwards.
func installSDK(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("WARREN_E2B_SDK_DIR")
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			t.Fatalf("no cache dir for the E2B SDK (set WARREN_E2B_SDK_DIR): %v", err)
		}
		dir = filepath.Join(cache, "warren", "e2b-sdk", sdkVersion)
	}
	if installedVersion(dir) == sdkVersion {
		return dir
	}
	if _, err := exec.LookPath("npm"); err != nil {
		t.Fatal("npm is needed to install the E2B SDK (scripts/deps says how to get Node.js 20.18+)")
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	// Install beside the cache entry, then rename it in place: a run cut
	// short leaves no half-installed SDK to be reused.
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".install-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	if err := os.WriteFile(filepath.Join(tmp, "package.json"), []byte(`{"private": true}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", "--save-exact", "e2b@"+sdkVersion)
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm install e2b@%s: %v\n%s", sdkVersion, err, out)
	}
	if v := installedVersion(tmp); v != sdkVersion {
		t.Fatalf("npm installed e2b %q, want %s", v, sdkVersion)
	}
	_ = os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

func installedVersion(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "node_modules", "e2b", "package.json"))
	if err != nil {
		return ""
	}
	var p struct{ Version string }
	_ = json.Unmarshal(b, &p)
	return p.Version
}

// call sends a JSON request to the node and decodes the answer into out
// (when not nil), returning the status.
func call(t testing.TB, method, url string, hdr map[string]string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	c := &http.Client{Timeout: 2 * time.Minute}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %d, undecodable answer %q: %v", method, url, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode
}

var e2bKeyRe = regexp.MustCompile(`^e2b_[0-9a-f]{40}$`)

// otherTeamKey makes a second team with an owner and returns an E2B-form key
// of that team, minted the way a user would: log in, POST /v1/api-keys
// {"format":"e2b"}.
func otherTeamKey(t *testing.T, n *nodetest.Node) string {
	t.Helper()
	admin := map[string]string{"Authorization": "Bearer " + n.APIKey}
	var team struct{ ID string }
	if st := call(t, "POST", n.URL+"/v1/admin/teams", admin, map[string]string{"name": "e2b-other-" + nodetest.RandomSuffix(3)}, &team); st != 201 {
		t.Fatalf("creating a team: %d", st)
	}
	email, password := "other-"+nodetest.RandomSuffix(3)+"@example.test", "a-long-password-1"
	if st := call(t, "POST", n.URL+"/v1/admin/users", admin, map[string]any{"email": email, "password": password, "team_id": team.ID, "role": "owner"}, nil); st != 201 {
		t.Fatalf("creating a user: %d", st)
	}
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	resp, err := http.Post(n.URL+"/v1/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var login struct {
		CSRFToken string `json:"csrf_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&login); err != nil || resp.StatusCode != 200 {
		t.Fatalf("login: %d %v", resp.StatusCode, err)
	}
	var cookie string
	for _, c := range resp.Cookies() {
		if c.Name == "warren_session" {
			cookie = c.Name + "=" + c.Value
		}
	}
	var key struct{ Key string }
	hdr := map[string]string{"Cookie": cookie, "X-CSRF-Token": login.CSRFToken}
	if st := call(t, "POST", n.URL+"/v1/api-keys", hdr, map[string]string{"name": "sdk", "format": "e2b"}, &key); st != 201 {
		t.Fatalf("creating an e2b key: %d", st)
	}
	if !e2bKeyRe.MatchString(key.Key) {
		t.Fatalf("minted key %q is not e2b_ + 40 hex digits", key.Key)
	}
	return key.Key
}

// liveSandboxes returns the IDs of the team's live sandboxes by Warren's API.
func liveSandboxes(t testing.TB, n *nodetest.Node, key string) []string {
	t.Helper()
	var out struct {
		Items []struct{ ID string }
	}
	if st := call(t, "GET", n.URL+"/v1/sandboxes?state=creating,running,paused", map[string]string{"Authorization": "Bearer " + key}, nil, &out); st != 200 {
		t.Fatalf("listing sandboxes: %d", st)
	}
	ids := []string{}
	for _, it := range out.Items {
		ids = append(ids, it.ID)
	}
	return ids
}

// killAll kills the given sandboxes (cleanup by recorded ID).
func killAll(t testing.TB, n *nodetest.Node, key string, ids []string) {
	for _, sb := range ids {
		if st := call(t, "DELETE", n.URL+"/v1/sandboxes/"+sb, map[string]string{"Authorization": "Bearer " + key}, nil, nil); st != 200 && st != 409 && st != 404 {
			t.Errorf("cleanup: killing %s: %d", sb, st)
		}
	}
}

func mustNode(t testing.TB) (*nodetest.Node, string) {
	t.Helper()
	n := nodetest.Start(t)
	if n.Bootstrap == nil || !e2bKeyRe.MatchString(n.Bootstrap.E2BAPIKey) {
		t.Fatalf("bootstrap has no e2b_api_key of E2B's form: %+v", n.Bootstrap)
	}
	b, err := os.ReadFile(filepath.Join(n.DataDir, "bootstrap.json"))
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		E2BAPIKey string `json:"e2b_api_key"`
	}
	if err := json.Unmarshal(b, &info); err != nil || info.E2BAPIKey != n.Bootstrap.E2BAPIKey {
		t.Fatalf("bootstrap.json: e2b_api_key %q (err %v), want the bootstrap's", info.E2BAPIKey, err)
	}
	return n, fmt.Sprint(n.Bootstrap.E2BAPIKey)
}

func decodeBody(t *testing.T, resp *http.Response, v any) {
	t.Helper()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("decoding the answer: %v", err)
	}
}
