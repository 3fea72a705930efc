package e2b_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/warrenhq/warren/e2b"
	"github.com/warrenhq/warren/id"
)

// TestBadInput sends bad input to every E2B route of a real node: each
// answer is E2B's JSON error with the status its SDK expects and a message
// naming the problem, and nothing is left behind.
func TestBadInput(t *testing.T) {
	n, key := mustNode(t)
	other := otherTeamKey(t, n)
	u := n.URL
	auth := map[string]string{"X-API-KEY": key}
	var sb struct{ SandboxID string }
	if st := call(t, "POST", u+"/v2/sandboxes", auth, map[string]any{"templateID": "base", "timeout": 300}, &sb); st != 201 {
		t.Fatalf("create: %d", st)
	}
	t.Cleanup(func() { killAll(t, n, key, []string{sb.SandboxID}) })
	s := "/sandboxes/" + sb.SandboxID
	unknown := "/sandboxes/" + id.NewSandboxID().String()
	big := `{"templateID":"base","metadata":{"k":"` + strings.Repeat("x", 2<<20) + `"}}`

	cases := []struct {
		name, method, path string
		key                string // "" sends none; "-" the team's
		body               any
		status             int
		msg                string
	}{
		{"no key", "GET", "/v2/sandboxes", "", nil, 401, "missing API key"},
		{"bad key", "GET", "/v2/sandboxes", "e2b_" + strings.Repeat("0", 40), nil, 401, "invalid API key"},
		{"malformed key", "GET", "/v2/sandboxes", "not-a-key", nil, 401, "invalid API key"},
		{"create: malformed JSON", "POST", "/v2/sandboxes", "-", `{"templateID":`, 400, "JSON"},
		{"create: not an object", "POST", "/v2/sandboxes", "-", `[1]`, 400, "JSON object"},
		{"create: empty body", "POST", "/v2/sandboxes", "-", ` `, 400, "body is required"},
		{"create: trailing data", "POST", "/v2/sandboxes", "-", `{"templateID":"base"} {}`, 400, "unexpected data"},
		{"create: unknown field", "POST", "/v2/sandboxes", "-", map[string]any{"templateID": "base", "bogus": 1}, 400, "bogus: unknown field"},
		{"create: no template", "POST", "/v2/sandboxes", "-", map[string]any{}, 400, "templateID: is required"},
		{"create: unknown template", "POST", "/v2/sandboxes", "-", map[string]any{"templateID": "nope-template"}, 400, `templateID: no template "nope-template"`},
		{"create: another team's template ID", "POST", "/v2/sandboxes", "-", map[string]any{"templateID": id.NewTemplateID().String()}, 400, "templateID: no template"},
		{"create v1: unknown template", "POST", "/sandboxes", "-", map[string]any{"templateID": "nope-template"}, 400, "templateID"},
		{"create: timeout 0", "POST", "/v2/sandboxes", "-", map[string]any{"templateID": "base", "timeout": 0}, 400, "timeout: must be at least 1"},
		{"create: timeout past the limit", "POST", "/v2/sandboxes", "-", map[string]any{"templateID": "base", "timeout": 1 << 30}, 400, "timeout: must be between"},
		{"create: timeout not a number", "POST", "/v2/sandboxes", "-", map[string]any{"templateID": "base", "timeout": "5"}, 400, "timeout: must be"},
		{"create: env name with =", "POST", "/v2/sandboxes", "-", map[string]any{"templateID": "base", "envVars": map[string]string{"A=B": "1"}}, 400, "envVars"},
		{"create: metadata value too long", "POST", "/v2/sandboxes", "-", map[string]any{"templateID": "base", "metadata": map[string]string{"k": strings.Repeat("v", 1025)}}, 400, "metadata.k"},
		{"create: body too large", "POST", "/v2/sandboxes", "-", big, 413, "exceeds"},
		{"create: autoPause", "POST", "/v2/sandboxes", "-", map[string]any{"templateID": "base", "autoPause": true}, 400, "autoPause"},
		{"create: autoResume", "POST", "/v2/sandboxes", "-", map[string]any{"templateID": "base", "autoResume": map[string]bool{"enabled": true}}, 400, "autoResume"},
		{"create: mcp", "POST", "/v2/sandboxes", "-", map[string]any{"templateID": "base", "mcp": map[string]any{"x": 1}}, 400, "mcp"},
		{"create: iam", "POST", "/v2/sandboxes", "-", map[string]any{"templateID": "base", "iam": map[string]any{"tokens": map[string]any{}}}, 400, "iam"},
		{"create: volumes", "POST", "/v2/sandboxes", "-", map[string]any{"templateID": "base", "volumeMounts": []any{map[string]string{"name": "v", "path": "/v"}}}, 400, "volumeMounts"},
		{"create: allowOut", "POST", "/v2/sandboxes", "-", map[string]any{"templateID": "base", "network": map[string]any{"allowOut": []string{"1.1.1.1"}}}, 400, "network.allowOut"},
		{"create: denyOut with host bits", "POST", "/v2/sandboxes", "-", map[string]any{"templateID": "base", "network": map[string]any{"denyOut": []string{"10.0.0.1/8"}}}, 400, "network.denyOut[0]"},
		{"create: allowOut wildcard", "POST", "/v2/sandboxes", "-", map[string]any{"templateID": "base", "network": map[string]any{"allowOut": []string{"1.1.1.1", "*.example.com"}, "denyOut": []string{"0.0.0.0/0"}}}, 400, "network.allowOut[1]"},
		{"create: allowOut beside a partial denyOut", "POST", "/v2/sandboxes", "-", map[string]any{"templateID": "base", "network": map[string]any{"allowOut": []string{"1.1.1.1"}, "denyOut": []string{"10.0.0.0/8"}}}, 400, "network.allowOut"},
		{"create: denyOut all with internet on", "POST", "/v2/sandboxes", "-", map[string]any{"templateID": "base", "allow_internet_access": true, "network": map[string]any{"denyOut": []string{"0.0.0.0/0"}}}, 400, "network.denyOut"},
		{"create: public traffic", "POST", "/v2/sandboxes", "-", map[string]any{"templateID": "base", "network": map[string]any{"allowPublicTraffic": true}}, 400, "network.allowPublicTraffic"},
		{"create: egress proxy", "POST", "/v2/sandboxes", "-", map[string]any{"templateID": "base", "network": map[string]any{"egressProxy": map[string]string{"address": "p:1080"}}}, 400, "network.egressProxy"},
		{"get: another team's sandbox", "GET", s, other, nil, 404, "not found"},
		{"get: malformed ID", "GET", "/sandboxes/nope", "-", nil, 404, `"nope" not found`},
		{"get: unknown sandbox", "GET", unknown, "-", nil, 404, "not found"},
		{"kill: another team's sandbox", "DELETE", s, other, nil, 404, "not found"},
		{"kill: unknown sandbox", "DELETE", unknown, "-", nil, 404, "not found"},
		{"timeout: no body", "POST", s + "/timeout", "-", nil, 400, "body is required"},
		{"timeout: missing field", "POST", s + "/timeout", "-", map[string]any{}, 400, "timeout: is required"},
		{"timeout: 0", "POST", s + "/timeout", "-", map[string]any{"timeout": 0}, 400, "timeout: must be between"},
		{"timeout: negative", "POST", s + "/timeout", "-", map[string]any{"timeout": -5}, 400, "timeout"},
		{"timeout: not a number", "POST", s + "/timeout", "-", `{"timeout":"1"}`, 400, "timeout: must be"},
		{"timeout: another team's sandbox", "POST", s + "/timeout", other, map[string]any{"timeout": 30}, 404, "not found"},
		{"refresh: duration too long", "POST", s + "/refreshes", "-", map[string]any{"duration": 99999}, 400, "duration"},
		{"refresh: another team's sandbox", "POST", s + "/refreshes", other, nil, 404, "not found"},
		{"pause: memory false", "POST", s + "/pause", "-", map[string]any{"memory": false}, 400, "memory"},
		{"pause: another team's sandbox", "POST", s + "/pause", other, nil, 404, "not found"},
		{"connect: another team's sandbox", "POST", "/v2" + s + "/connect", other, nil, 404, "not found"},
		{"connect: negative timeout", "POST", "/v2" + s + "/connect", "-", map[string]any{"timeout": -1}, 400, "timeout"},
		{"connect: memory false", "POST", "/v2" + s + "/connect", "-", map[string]any{"memory": false}, 400, "memory"},
		{"connect v1: no timeout", "POST", s + "/connect", "-", map[string]any{}, 400, "timeout: is required"},
		{"resume: a running sandbox", "POST", s + "/resume", "-", nil, 409, "already running"},
		{"resume: another team's sandbox", "POST", s + "/resume", other, nil, 404, "not found"},
		{"list: unknown state", "GET", "/v2/sandboxes?state=running,dead", "-", nil, 400, `state: must be running or paused, not "dead"`},
		{"list: limit 0", "GET", "/v2/sandboxes?limit=0", "-", nil, 400, "limit"},
		{"list: limit 101", "GET", "/v2/sandboxes?limit=101", "-", nil, 400, "limit"},
		{"list: bad next token", "GET", "/v2/sandboxes?nextToken=zzz", "-", nil, 400, "nextToken"},
		{"list: unknown order", "GET", "/v2/sandboxes?order=up", "-", nil, 400, "order: must be asc or desc"},
		{"list: bad startedAfter", "GET", "/v2/sandboxes?startedAfter=yesterday", "-", nil, 400, "startedAfter"},
		{"list: bad metadata", "GET", "/v2/sandboxes?metadata=%25zz", "-", nil, 400, "metadata"},
		{"list v1: bad metadata", "GET", "/sandboxes?metadata=%25zz", "-", nil, 400, "metadata"},
		{"unknown route", "GET", "/v2/nothing-here", "-", nil, 404, "no such E2B API route"},
		{"unknown method", "PATCH", "/v2/sandboxes", "-", nil, 404, "no such E2B API route"},
		{"metrics: bad start", "GET", s + "/metrics?start=yesterday", "-", nil, 400, "start: must be Unix seconds"},
		{"metrics: negative end", "GET", s + "/metrics?end=-1", "-", nil, 400, "end: must be Unix seconds"},
		{"metrics: end before start", "GET", s + "/metrics?start=200&end=100", "-", nil, 400, "end: must not be before start"},
		{"metrics: unknown sandbox", "GET", unknown + "/metrics", "-", nil, 404, "not found"},
		{"metrics: another team's sandbox", "GET", s + "/metrics", other, nil, 404, "not found"},
		{"fork: unknown sandbox", "POST", unknown + "/fork", "-", nil, 404, "not found"},
	}
	for _, rt := range e2b.UnsupportedRoutes() {
		path := strings.NewReplacer("{sandboxID}", sb.SandboxID, "{templateID}", "tpl-x", "{buildID}", "b", "{hash}", "h",
			"{alias}", "a", "{teamID}", "t", "{volumeID}", "v", "{secretID}", "s", "*", "file").Replace(rt[1])
		cases = append(cases, struct {
			name, method, path string
			key                string
			body               any
			status             int
			msg                string
		}{"unsupported " + rt[0] + " " + rt[1], rt[0], path, "-", nil, http.StatusNotImplemented, "not"})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hdr := map[string]string{}
			switch c.key {
			case "":
			case "-":
				hdr["X-API-KEY"] = key
			default:
				hdr["X-API-KEY"] = c.key
			}
			var body struct {
				Code    int
				Message string
			}
			st := call(t, c.method, u+c.path, hdr, c.body, &body)
			if st != c.status || body.Code != c.status || !strings.Contains(body.Message, c.msg) {
				t.Errorf("%s %s: %d {code %d, message %q}, want %d with %q", c.method, c.path, st, body.Code, body.Message, c.status, c.msg)
			}
		})
	}

	t.Run("a Warren key works too", func(t *testing.T) {
		var items []struct{ SandboxID string }
		if st := call(t, "GET", u+"/v2/sandboxes", map[string]string{"X-API-KEY": n.APIKey}, nil, &items); st != 200 || len(items) != 1 || items[0].SandboxID != sb.SandboxID {
			t.Errorf("list with the wk_ key: %d %+v", st, items)
		}
	})
	t.Run("a browser's page load still gets the UI", func(t *testing.T) {
		req, _ := http.NewRequest("GET", u+"/sandboxes", nil)
		req.Header.Set("Accept", "text/html,application/xhtml+xml")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Errorf("GET /sandboxes as a page: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	})
	// Nothing left behind: the one sandbox made here is the team's only
	// live one, the other team has none, and it still runs.
	if live := liveSandboxes(t, n, key); len(live) != 1 || live[0] != sb.SandboxID {
		t.Errorf("live sandboxes after the bad input: %v, want only %s", live, sb.SandboxID)
	}
	if live := liveSandboxes(t, n, other); len(live) != 0 {
		t.Errorf("the other team has live sandboxes: %v", live)
	}
	var info struct{ State string }
	if st := call(t, "GET", u+s, auth, nil, &info); st != 200 || info.State != "running" {
		t.Errorf("the sandbox after the bad input: %d %q", st, info.State)
	}
}
