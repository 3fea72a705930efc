package hardening_test

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"
)

// schema is the part of an OpenAPI schema the suite reads.
type schema struct {
	Type                 string             `json:"type"`
	Properties           map[string]*schema `json:"properties"`
	Items                *schema            `json:"items"`
	AdditionalProperties *schema            `json:"additionalProperties"`
	Pattern              string             `json:"pattern"`
}

// operation is one method of one path.
type operation struct {
	Method, Path string
	Public       bool
	Body         *schema // the JSON request body, or nil
	RawBody      bool    // a non-JSON body (uploads, the port proxy)
	Query        []string
}

// loadOpenAPI fetches /v1/openapi.json and lists its operations, sorted.
func loadOpenAPI(t *testing.T, c *client) []operation {
	t.Helper()
	r := c.do(t, "GET", "/v1/openapi.json", nil)
	if r.status != 200 {
		t.Fatalf("openapi: %s", r)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Security    *[]any `json:"security"`
			Parameters  []struct{ Name, In string }
			RequestBody *struct {
				Content map[string]struct {
					Schema *schema `json:"schema"`
				} `json:"content"`
			} `json:"requestBody"`
		} `json:"paths"`
	}
	r.decode(t, &doc)
	var ops []operation
	for p, methods := range doc.Paths {
		for m, op := range methods {
			o := operation{Method: strings.ToUpper(m), Path: p, Public: op.Security != nil && len(*op.Security) == 0}
			for _, prm := range op.Parameters {
				if prm.In == "query" {
					o.Query = append(o.Query, prm.Name)
				}
			}
			if op.RequestBody != nil {
				if js, ok := op.RequestBody.Content["application/json"]; ok {
					o.Body = js.Schema
				} else {
					o.RawBody = true
				}
			}
			ops = append(ops, o)
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].Path+ops[i].Method < ops[j].Path+ops[j].Method })
	if len(ops) < 30 {
		t.Fatalf("the OpenAPI document lists only %d operations", len(ops))
	}
	return ops
}

// fill replaces the path parameters of p with the values in ids (by the
// path's resource: "sandboxes", "users", …) and "*" with a segment.
func fill(p string, ids map[string]string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		switch {
		case s == "{port}":
			segs[i] = "8080"
		case s == "*":
			segs[i] = "x"
		case strings.HasPrefix(s, "{") && i > 0:
			segs[i] = ids[segs[i-1]]
		}
	}
	return strings.Join(segs, "/")
}

// jsonOf encodes v (for building bodies by hand).
func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
