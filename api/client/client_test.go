package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/warrenhq/warren/api/client"
)

func TestNewValidatesTheURL(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:8080", "ftp://x", "http://"} {
		if _, err := client.New(u, "k"); err == nil {
			t.Errorf("New(%q) accepted a bad URL", u)
		}
	}
	c, err := client.New("http://127.0.0.1:8080/", "k")
	if err != nil || c.BaseURL() != "http://127.0.0.1:8080" {
		t.Fatalf("New: %v %v", c, err)
	}
}

// TestErrorParsing checks the error body, headers and categories, including
// answers that are not the API's JSON (a proxy in between).
func TestErrorParsing(t *testing.T) {
	cases := []struct {
		name      string
		status    int
		header    map[string]string
		body      string
		want      client.Error
		is        error
		msgSuffix string
	}{
		{name: "not found", status: 404,
			body: `{"error":{"code":"not_found","message":"sandbox not found"},"request_id":"req-1"}`,
			want: client.Error{Status: 404, Code: "not_found", Message: "sandbox not found", RequestID: "req-1"}, is: client.ErrNotFound},
		{name: "invalid field", status: 400,
			body: `{"error":{"code":"invalid_argument","message":"timeout_sec: must be between 1 and 86400","field":"timeout_sec"},"request_id":"req-2"}`,
			want: client.Error{Status: 400, Code: "invalid_argument", Message: "timeout_sec: must be between 1 and 86400", Field: "timeout_sec", RequestID: "req-2"}, is: client.ErrInvalid},
		{name: "rate limited", status: 429, header: map[string]string{"Retry-After": "7"},
			body: `{"error":{"code":"rate_limited","message":"too many failed logins; try again later"},"request_id":"req-3"}`,
			want: client.Error{Status: 429, Code: "rate_limited", Message: "too many failed logins; try again later", RequestID: "req-3", RetryAfter: 7}, is: client.ErrRateLimited},
		{name: "internal names the request", status: 500,
			body: `{"error":{"code":"internal","message":"internal error; quote the request_id when reporting it"},"request_id":"req-4"}`,
			want: client.Error{Status: 500, Code: "internal", Message: "internal error; quote the request_id when reporting it", RequestID: "req-4"},
			is:   client.ErrInternal, msgSuffix: " (request req-4)"},
		{name: "not json", status: 502, header: map[string]string{"X-Request-ID": "req-5"}, body: "<html>bad gateway</html>",
			want: client.Error{Status: 502, Code: "unavailable", Message: "HTTP 502 Bad Gateway: <html>bad gateway</html>", RequestID: "req-5"},
			is:   client.ErrUnavailable, msgSuffix: " (request req-5)"},
		{name: "empty body", status: 409,
			want: client.Error{Status: 409, Code: "conflict", Message: "HTTP 409 Conflict"}, is: client.ErrConflict},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			}))
			defer srv.Close()
			c, _ := client.New(srv.URL, "wk_x", client.WithHTTPClient(srv.Client()))
			_, err := c.GetSandbox(context.Background(), "sb-1")
			var e *client.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T %v is not *client.Error", err, err)
			}
			if *e != tc.want {
				t.Fatalf("got %+v\nwant %+v", *e, tc.want)
			}
			if !errors.Is(err, tc.is) {
				t.Fatalf("errors.Is(%v, %v) is false", err, tc.is)
			}
			if errors.Is(err, client.ErrPermissionDenied) {
				t.Fatal("matched an unrelated category")
			}
			if got := err.Error(); got != tc.want.Message+tc.msgSuffix {
				t.Fatalf("Error() = %q", got)
			}
		})
	}
}

func TestHelpers(t *testing.T) {
	nf := &client.Error{Status: 404, Code: "not_found", Message: "sandbox not found"}
	wrapped := fmt.Errorf("killing sb-1: %w", nf)
	if !client.IsNotFound(wrapped) || client.IsConflict(wrapped) || client.IsNoRoute(wrapped) {
		t.Fatal("helpers misread a wrapped not_found")
	}
	if !client.IsNoRoute(&client.Error{Status: 404, Code: "not_found", Message: "no such route"}) ||
		!client.IsNoRoute(&client.Error{Status: 405, Code: "method_not_allowed"}) {
		t.Fatal("IsNoRoute misses a missing route")
	}
	if !client.IsUnavailable(&client.Error{Status: 503, Code: "unavailable"}) || client.IsUnavailable(errors.New("x")) {
		t.Fatal("IsUnavailable")
	}
}

// TestPaginationFollowsCursors serves 7 sandboxes in pages of the requested
// size and checks the iterator visits each once, in order, passing filters on
// every page, and that breaking early stops fetching.
func TestPaginationFollowsCursors(t *testing.T) {
	const total = 7
	var requests []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		requests = append(requests, r.URL.RawQuery)
		if r.Header.Get("Authorization") != "Bearer wk_x" {
			w.WriteHeader(401)
			return
		}
		if q.Get("state") != "running,paused" || q.Get("template") != "base" || q["metadata"][0] != "a=1" || q["metadata"][1] != "b=2" {
			w.WriteHeader(400)
			fmt.Fprintf(w, `{"error":{"code":"invalid_argument","message":"filters lost: %s"}}`, r.URL.RawQuery)
			return
		}
		limit, _ := strconv.Atoi(q.Get("limit"))
		start := 0
		if c := q.Get("cursor"); c != "" {
			start, _ = strconv.Atoi(c[len("sb-"):])
			start++
		}
		items := ""
		end := min(start+limit, total)
		for i := start; i < end; i++ {
			if items != "" {
				items += ","
			}
			items += fmt.Sprintf(`{"id":"sb-%d","status":"running"}`, i)
		}
		next := ""
		if end < total {
			next = fmt.Sprintf(`,"next_cursor":"sb-%d"`, end-1)
		}
		fmt.Fprintf(w, `{"items":[%s]%s}`, items, next)
	}))
	defer srv.Close()
	c, _ := client.New(srv.URL, "wk_x")
	opts := client.ListSandboxesOptions{States: []string{"running", "paused"}, Template: "base",
		Metadata: map[string]string{"b": "2", "a": "1"}, Limit: 3}
	var ids []string
	for sb, err := range c.Sandboxes(context.Background(), opts) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, sb.ID)
	}
	if fmt.Sprint(ids) != "[sb-0 sb-1 sb-2 sb-3 sb-4 sb-5 sb-6]" || len(requests) != 3 {
		t.Fatalf("visited %v in %d requests %v", ids, len(requests), requests)
	}
	requests = nil
	n := 0
	for range c.Sandboxes(context.Background(), opts) {
		if n++; n == 2 {
			break
		}
	}
	if len(requests) != 1 {
		t.Fatalf("breaking after 2 of a page of 3 made %d requests", len(requests))
	}
	// An error on a later page is yielded once and ends the walk.
	opts.Template = "other"
	var errs int
	for _, err := range c.Sandboxes(context.Background(), opts) {
		if err == nil || !client.IsInvalid(err) {
			t.Fatalf("want an invalid_argument error, got %v", err)
		}
		errs++
	}
	if errs != 1 {
		t.Fatalf("%d errors yielded", errs)
	}
}
