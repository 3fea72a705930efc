package hardening_test

import (
	"net/http"
	"net/url"
	"path"
	"strings"
	"testing"
)

// traversals replace one path parameter at a time, raw in the URL.
var traversals = []string{
	"..", "../..", "..%2f..%2fadmin%2fusers", "%2e%2e", "%2e%2e%2f%2e%2e%2fhealthz", "sb-..%2f..%2f",
	"....%2f%2f", "..;", "%00", "sb-00000000-0000-0000-0000-000000000000%00", "%252e%252e%252f",
	"..%5c..%5c", "sb-%2e%2e", strings.Repeat("a", 5000), "%ff%fe", "sb-01234567-89ab-cdef-0123-456789abcdeg",
	"SB-00000000-0000-0000-0000-000000000000", "sb-00000000000000000000000000000000", "%20", "%7Bid%7D",
}

// badQueries are values for every query parameter.
var badQueries = []string{"-1", "0", "999999999999999999999", "abc", "%00", "..%2f..%2f", "%ff", strings.Repeat("x", 5000), "1e9", "%27%22",
	"k=%00", "k=%ff", "%00=v", "running,%00"}

// TestAPIAbusePaths sends traversal and malformed values in every path
// parameter and every query parameter of every route in the OpenAPI
// document: 400/404/405 with the error shape (or 2xx for a harmless query
// value), never a 5xx.
func TestAPIAbusePaths(t *testing.T) {
	n, c := startNode(t)
	sb := c.create(t, nil)
	ids := map[string]string{"sandboxes": sb, "users": "usr-00000000-0000-0000-0000-000000000001",
		"teams": "team-00000000-0000-0000-0000-000000000001", "api-keys": "key-00000000-0000-0000-0000-000000000001",
		"builds": "bld-00000000-0000-0000-0000-000000000001", "nodes": "node-00000000-0000-0000-0000-000000000001",
		"templates": "tpl-00000000-0000-0000-0000-000000000001"}
	_ = n
	ops := loadOpenAPI(t, c)
	body := func(op operation) any {
		if op.Body != nil {
			if b, ok := baseBodies[op.Method+" "+op.Path]; ok {
				return b
			}
		}
		return nil
	}
	tried := 0
	for _, op := range ops {
		segs := strings.Split(op.Path, "/")
		for i, s := range segs {
			if !strings.HasPrefix(s, "{") {
				continue
			}
			for _, tr := range traversals {
				mod := append([]string(nil), segs...)
				mod[i] = tr
				p := fill(strings.Join(mod, "/"), ids)
				r, err := c.call(op.Method, p, body(op))
				if err != nil {
					badInput(t, "path", op.Method+" "+p, false, err)
					continue
				}
				tried++
				ok := r.status == http.StatusBadRequest || r.status == http.StatusNotFound || r.status == http.StatusMethodNotAllowed
				if uiPage(p, r) {
					// ".." that resolves outside /v1 (e.g. to "/") is the web UI's
					// page, as a browser would resolve it: no API data.
					ok = true
				} else if op.Method == "HEAD" {
					ok = ok && len(r.body) == 0
				} else {
					ok = ok && r.errShape()
				}
				badInput(t, "path", op.Method+" "+op.Path+" "+s+"="+short(tr), ok, r)
			}
		}
		if op.Method != "GET" {
			continue
		}
		for _, q := range op.Query {
			for _, v := range badQueries {
				p := fill(op.Path, ids) + "?" + q + "=" + v
				if q != "path" && strings.Contains(op.Path, "/files") {
					p += "&path=/tmp"
				}
				r := c.do(t, op.Method, p, nil)
				tried++
				ok := (r.status >= 200 && r.status < 300) || r.clean4xx()
				badInput(t, "query", op.Path+" "+q+"="+short(v), ok, r)
			}
		}
	}
	tally.Note("path and query abuse: %d requests over %d operations", tried, len(ops))
	// The sandbox is intact.
	if out := c.mustSh(t, sb, "echo intact"); out != "intact\n" {
		t.Fatalf("the sandbox after the path abuse: %q", out)
	}
}

// uiPage reports whether r is the web UI's HTML page for a path that
// resolves outside the API.
func uiPage(p string, r reply) bool {
	u, err := url.PathUnescape(p)
	if err != nil {
		u = p
	}
	clean := path.Clean(u)
	api := clean == "/v1" || strings.HasPrefix(clean, "/v1/") || clean == "/healthz" || clean == "/readyz"
	return !api && r.status == http.StatusOK && strings.HasPrefix(r.header.Get("Content-Type"), "text/html")
}

func short(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
