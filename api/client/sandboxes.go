package client

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// CreateSandbox creates a sandbox; it answers once the sandbox runs.
func (c *Client) CreateSandbox(ctx context.Context, req CreateSandbox) (Sandbox, error) {
	var sb Sandbox
	return sb, c.do(ctx, http.MethodPost, "/v1/sandboxes", nil, req, &sb)
}

// ListSandboxesOptions filter and page a sandbox list. Empty fields do not
// filter; Limit 0 takes the server's default (50, at most 200).
type ListSandboxesOptions struct {
	States   []string          // e.g. running, paused
	Template string            // template name
	Metadata map[string]string // every pair must match
	Cursor   string            // NextCursor of the previous page
	Limit    int
}

func (o ListSandboxesOptions) query() url.Values {
	q := url.Values{}
	if len(o.States) > 0 {
		q.Set("state", strings.Join(o.States, ","))
	}
	if o.Template != "" {
		q.Set("template", o.Template)
	}
	keys := make([]string, 0, len(o.Metadata))
	for k := range o.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		q.Add("metadata", k+"="+o.Metadata[k])
	}
	if o.Cursor != "" {
		q.Set("cursor", o.Cursor)
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	return q
}

// ListSandboxes returns one page of the team's sandboxes, newest first.
func (c *Client) ListSandboxes(ctx context.Context, opts ListSandboxesOptions) (Page[Sandbox], error) {
	var p Page[Sandbox]
	return p, c.do(ctx, http.MethodGet, "/v1/sandboxes", opts.query(), nil, &p)
}

// Sandboxes iterates over every sandbox matching opts, fetching pages of
// opts.Limit as it goes. It stops at the first error, which it yields.
func (c *Client) Sandboxes(ctx context.Context, opts ListSandboxesOptions) iter.Seq2[Sandbox, error] {
	return paginate(func(cursor string) (Page[Sandbox], error) {
		o := opts
		o.Cursor = cursor
		return c.ListSandboxes(ctx, o)
	}, opts.Cursor)
}

// ListAllSandboxes lists the sandboxes of every team, build sandboxes included
// (admin).
func (c *Client) ListAllSandboxes(ctx context.Context, opts ListSandboxesOptions) (Page[Sandbox], error) {
	var p Page[Sandbox]
	return p, c.do(ctx, http.MethodGet, "/v1/admin/sandboxes", opts.query(), nil, &p)
}

// paginate walks pages from cursor until one has no NextCursor.
func paginate[T any](fetch func(cursor string) (Page[T], error), cursor string) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for {
			p, err := fetch(cursor)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, it := range p.Items {
				if !yield(it, nil) {
					return
				}
			}
			if p.NextCursor == "" || p.NextCursor == cursor {
				return
			}
			cursor = p.NextCursor
		}
	}
}

// GetSandbox returns a sandbox.
func (c *Client) GetSandbox(ctx context.Context, id string) (Sandbox, error) {
	var sb Sandbox
	return sb, c.do(ctx, http.MethodGet, "/v1/sandboxes/"+seg(id), nil, nil, &sb)
}

// KillSandbox kills a sandbox and frees what it holds.
func (c *Client) KillSandbox(ctx context.Context, id string) (Sandbox, error) {
	var sb Sandbox
	return sb, c.do(ctx, http.MethodDelete, "/v1/sandboxes/"+seg(id), nil, nil, &sb)
}

// PauseSandbox freezes a running sandbox.
func (c *Client) PauseSandbox(ctx context.Context, id string) (Sandbox, error) {
	var sb Sandbox
	return sb, c.do(ctx, http.MethodPost, "/v1/sandboxes/"+seg(id)+"/pause", nil, nil, &sb)
}

// ResumeSandbox resumes a paused sandbox.
func (c *Client) ResumeSandbox(ctx context.Context, id string) (Sandbox, error) {
	var sb Sandbox
	return sb, c.do(ctx, http.MethodPost, "/v1/sandboxes/"+seg(id)+"/resume", nil, nil, &sb)
}

// SetSandboxTimeout sets the sandbox to expire timeoutSec seconds from now.
func (c *Client) SetSandboxTimeout(ctx context.Context, id string, timeoutSec int64) (Sandbox, error) {
	var sb Sandbox
	body := map[string]int64{"timeout_sec": timeoutSec}
	return sb, c.do(ctx, http.MethodPost, "/v1/sandboxes/"+seg(id)+"/timeout", nil, body, &sb)
}

// Snapshot saves the sandbox's disk as a new team template named name.
func (c *Client) Snapshot(ctx context.Context, id, name string) (Template, error) {
	var t Template
	return t, c.do(ctx, http.MethodPost, "/v1/sandboxes/"+seg(id)+"/snapshots", nil, map[string]string{"name": name}, &t)
}

// ListTemplates lists the team's and the platform's templates; typ filters by
// "image" or "snapshot" when not empty.
func (c *Client) ListTemplates(ctx context.Context, typ string) ([]Template, error) {
	q := url.Values{}
	if typ != "" {
		q.Set("type", typ)
	}
	var p Page[Template]
	return p.Items, c.do(ctx, http.MethodGet, "/v1/templates", q, nil, &p)
}

// ListAllTemplates lists every team's templates with replicas (admin).
func (c *Client) ListAllTemplates(ctx context.Context) ([]Template, error) {
	var p Page[Template]
	return p.Items, c.do(ctx, http.MethodGet, "/v1/admin/templates", nil, nil, &p)
}

// DeleteTemplate deletes a template.
func (c *Client) DeleteTemplate(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/v1/templates/"+seg(id), nil, nil, nil)
}
