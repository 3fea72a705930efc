package hardening_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// baseBodies are valid requests of each JSON route, which the mutations
// start from.
var baseBodies = map[string]map[string]any{
	"POST /v1/auth/login":                      {"email": "nobody@example.com", "password": "wrong password"},
	"POST /v1/admin/users":                     {"email": "mut@example.com", "password": "correct horse battery staple"},
	"POST /v1/admin/teams":                     {"name": "mutated-team"},
	"POST /v1/api-keys":                        {"name": "mutated-key"},
	"POST /v1/sandboxes":                       {"template": "base", "disk_size_mb": 1024, "memory_mb": 64, "timeout_sec": 60},
	"POST /v1/sandboxes/{id}/timeout":          {"timeout_sec": 600},
	"POST /v1/admin/templates/{id}/pool":       {"count": 0},
	"PUT /v1/admin/templates/{id}/pool":        {"count": 0},
	"PUT /v1/sandboxes/{id}/egress":            {"deny_out": []any{"203.0.113.0/24"}},
	"POST /v1/sandboxes/{id}/snapshots":        {"name": "mutated-snap"},
	"POST /v1/sandboxes/{id}/exec":             {"cmd": "true"},
	"POST /v1/sandboxes/{id}/exec/stream":      {"cmd": "true"},
	"POST /v1/sandboxes/{id}/files/mkdir":      {"path": "/tmp/mutated"},
	"POST /v1/sandboxes/{id}/ports/{port}/url": {"ttl_sec": 60},
	"POST /v1/admin/builds":                    {"name": "mutated-build", "recipe": []any{"true"}},
}

// mutation is one hostile value for a property.
type mutation struct {
	name  string
	value string // raw JSON
}

var (
	badStrings = []mutation{
		{"quotes", jsonOf(`q"uo'te` + "`$(id)`")}, {"NUL", jsonOf("nul\x00byte")}, {"control", jsonOf("ctl\x01\x1b[2J\x7f\r\n")},
		{"bidi", jsonOf("\u202eevil")}, {"empty", `""`}, {"traversal", jsonOf("../../../../etc/passwd")},
		{"70 KB", jsonOf(strings.Repeat("A", 70000))}, {"invalid UTF-8", "\"\xff\xfe\""}, {"escaped NUL", `"\u0000"`},
		{"lone surrogate", `"\ud800"`},
	}
	badInts = []mutation{
		{"-1", "-1"}, {"0", "0"}, {"min int64", "-9223372036854775808"}, {"max int64", "9223372036854775807"},
		{"overflow", "99999999999999999999"}, {"fraction", "1.5"}, {"1e400", "1e400"}, {"string", `"10"`},
		{"2^31", "2147483648"},
	}
	badNumbers = []mutation{{"-1", "-1"}, {"0", "0"}, {"1e308", "1e308"}, {"tiny", "1e-300"}, {"1e400", "1e400"}, {"string", `"1"`}}
	badBools   = []mutation{{"string", `"true"`}, {"number", "1"}}
	badArrays  = []mutation{
		{"empty", "[]"}, {"null item", "[null]"}, {"NUL item", jsonOf([]string{"a\x00b"})}, {"5000 items", jsonOf(make([]string, 5000))},
		{"numbers", "[1,2]"}, {"not an array", `"x"`},
	}
	badObjects = []mutation{
		{"empty key", `{"":"x"}`}, {"NUL key", jsonOf(map[string]string{"k\x00": "v"})}, {"NUL value", jsonOf(map[string]string{"k": "\x00"})},
		{"number value", `{"k":1}`}, {"1000 keys", manyKeys(1000)}, {"not an object", `"x"`}, {"= key", `{"A=B":"x"}`},
	}
	wrongTypes = []mutation{{"null", "null"}, {"object", "{}"}, {"array", "[]"}, {"bool", "true"}, {"number", "7"}, {"string", `"s"`}}
)

func manyKeys(n int) string {
	m := map[string]string{}
	for i := range n {
		m[fmt.Sprintf("k%d", i)] = "v"
	}
	return jsonOf(m)
}

// mutationsOf lists the hostile values for a property of schema s.
func mutationsOf(s *schema) []mutation {
	var out []mutation
	switch s.Type {
	case "string":
		out = append(out, badStrings...)
	case "integer":
		out = append(out, badInts...)
	case "number":
		out = append(out, badNumbers...)
	case "boolean":
		out = append(out, badBools...)
	case "array":
		out = append(out, badArrays...)
	case "object":
		out = append(out, badObjects...)
	}
	for _, w := range wrongTypes {
		if w.name != s.Type && !(w.name == "number" && s.Type == "integer") {
			out = append(out, w)
		}
	}
	return out
}

// malformed are whole bodies every JSON route must refuse with 400.
var malformed = []mutation{
	{"truncated", `{"a":`}, {"open brace", `{`}, {"array", `[]`}, {"null", `null`}, {"string", `"str"`}, {"number", `42`},
	{"trailing data", `{}{}`}, {"trailing comma", `{"a":1,}`}, {"single quotes", `{'a':1}`}, {"BOM", "\ufeff{}"},
	{"unknown field", `{"evil_field":1}`}, {"empty", ``}, {"spaces", `   `}, {"invalid UTF-8", "\xff\xfe{}"},
	{"deep nesting", strings.Repeat("[", 20000) + strings.Repeat("]", 20000)}, {"NUL", "\x00"},
	{"comment", `{/*x*/}`}, {"NaN", `{"a":NaN}`},
}

// TestAPIAbuseBodies mutates every property of every JSON route in the
// OpenAPI document, and sends malformed, unknown-field and oversized bodies:
// every answer is a 4xx with the error shape or a 2xx for input that is in
// fact valid, never a 5xx.
func TestAPIAbuseBodies(t *testing.T) {
	n, c := startNode(t)
	sb := c.create(t, nil)
	ids := map[string]string{"sandboxes": sb, "users": "usr-00000000-0000-0000-0000-000000000001",
		"teams": "team-00000000-0000-0000-0000-000000000001", "api-keys": "key-00000000-0000-0000-0000-000000000001",
		"builds": "bld-00000000-0000-0000-0000-000000000001", "nodes": n.ID.String(), "templates": "tpl-00000000-0000-0000-0000-000000000001"}
	ops := loadOpenAPI(t, c)
	accepted, rejected := 0, 0
	check := func(group, what string, r reply, strict bool) {
		t.Helper()
		clean := r.clean4xx() || (!strict && r.status >= 200 && r.status < 300)
		badInput(t, group, what, clean, r)
		if r.status >= 200 && r.status < 300 {
			accepted++
			cleanupCreated(c, r)
		} else {
			rejected++
		}
	}
	routes := 0
	for _, op := range ops {
		if op.Body == nil {
			continue
		}
		routes++
		key := op.Method + " " + op.Path
		base, ok := baseBodies[key]
		if !ok {
			t.Errorf("no base body for %s: add it to baseBodies", key)
			continue
		}
		path := fill(op.Path, ids)
		for _, m := range malformed {
			check("json", key+" "+m.name, c.do(t, op.Method, path, m.value), true)
		}
		props := make([]string, 0, len(op.Body.Properties))
		for p := range op.Body.Properties {
			props = append(props, p)
		}
		for _, p := range props {
			for _, m := range mutationsOf(op.Body.Properties[p]) {
				check("property", key+" "+p+"="+m.name, c.do(t, op.Method, path, withRaw(base, p, m.value)), false)
			}
		}
		// Oversized: with a length, chunked, and a declared length alone.
		huge := `{"x":"` + strings.Repeat("A", 70<<20) + `"}`
		if !strings.Contains(key, "builds") {
			huge = huge[:2<<20] + `"}`
		}
		check("size", key+" huge body", c.do(t, op.Method, path, huge), true)
		check("size", key+" huge chunked body", c.do(t, op.Method, path, strings.NewReader(huge)), true)
		check("size", key+" huge Content-Length", rawRequest(t, c, op.Method, path, 1<<40), true)
	}
	if routes < 10 {
		t.Fatalf("only %d JSON routes in the OpenAPI document", routes)
	}
	// Uploads: a declared length past the upload limit.
	check("size", "PUT files 1 TiB Content-Length", rawRequest(t, c, "PUT", "/v1/sandboxes/"+sb+"/files?path=/tmp/x", 1<<40), true)
	tally.Note("api abuse: %d JSON routes mutated; %d answers rejected with 4xx, %d accepted as valid input", routes, rejected, accepted)
	if r := c.do(t, "GET", "/healthz", nil); r.status != 200 {
		t.Fatalf("healthz after the abuse: %s", r)
	}
}

// withRaw returns base as JSON with property p set to the raw JSON value.
func withRaw(base map[string]any, p, raw string) string {
	var b strings.Builder
	b.WriteString("{")
	first := true
	for k, v := range base {
		if k == p {
			continue
		}
		if !first {
			b.WriteString(",")
		}
		first = false
		b.WriteString(jsonOf(k) + ":" + jsonOf(v))
	}
	if !first {
		b.WriteString(",")
	}
	b.WriteString(jsonOf(p) + ":" + raw + "}")
	return b.String()
}

// cleanupCreated ends what an accepted mutation made: sandboxes and builds.
func cleanupCreated(c *client, r reply) {
	var v struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(r.body, &v) != nil {
		return
	}
	switch {
	case strings.HasPrefix(v.ID, "sb-"):
		_, _ = c.call("DELETE", "/v1/sandboxes/"+v.ID, nil)
	case strings.HasPrefix(v.ID, "bld-"):
		_, _ = c.call("POST", "/v1/admin/builds/"+v.ID+"/cancel", nil)
	}
}

// rawRequest sends only headers declaring a body of length bytes and reads
// the answer: the node must refuse without waiting for the body.
func rawRequest(t *testing.T, c *client, method, path string, length int64) reply {
	t.Helper()
	addr := strings.TrimPrefix(c.url, "http://")
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n{", method, path, addr, c.key, length)
	res, err := readResponse(bufio.NewReader(conn), method)
	if err != nil {
		t.Fatalf("%s %s with Content-Length %d: %v", method, path, length, err)
	}
	return res
}
