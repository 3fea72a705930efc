package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Client calls one Warren node's REST API. It is safe for concurrent use.
type Client struct {
	base   *url.URL
	apiKey string
	http   *http.Client
	team   string
	agent  string
}

// Option adjusts a Client.
type Option func(*Client)

// WithHTTPClient makes the client send its requests through hc (timeouts,
// transports, proxies). Streaming calls (exec streams, file transfers) last as
// long as the work does, so hc should not set a short overall Timeout.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithTeam sends X-Warren-Team so a session user acts for that team.
func WithTeam(teamID string) Option { return func(c *Client) { c.team = teamID } }

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(c *Client) { c.agent = ua } }

// New returns a client for the node at baseURL (e.g. http://127.0.0.1:8080)
// authenticating with apiKey ("wk_…"; empty for the public routes only).
func New(baseURL, apiKey string, opts ...Option) (*Client, error) {
	if baseURL == "" {
		return nil, errors.New("client: base URL is required")
	}
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("client: base URL %q: %w", baseURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("client: base URL %q: must be http:// or https:// with a host", baseURL)
	}
	c := &Client{base: u, apiKey: apiKey, http: http.DefaultClient, agent: "warren-go-client"}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// BaseURL returns the node's URL the client talks to.
func (c *Client) BaseURL() string { return c.base.String() }

// request builds a request for path (with query) and an optional body.
func (c *Client) request(ctx context.Context, method, path string, q url.Values, body io.Reader) (*http.Request, error) {
	u := *c.base
	u.Path = c.base.Path + path
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	if c.team != "" {
		req.Header.Set("X-Warren-Team", c.team)
	}
	req.Header.Set("User-Agent", c.agent)
	req.Header.Set("Accept", "application/json")
	return req, nil
}

// send performs req and returns the response when its status is 2xx; any other
// answer is turned into *Error (the body is consumed and closed).
func (c *Client) send(req *http.Request) (*http.Response, error) {
	res, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	if res.StatusCode/100 == 2 {
		return res, nil
	}
	defer res.Body.Close()
	return nil, parseError(res)
}

// do sends a JSON request (in may be nil) and decodes a JSON answer into out
// (which may be nil).
func (c *Client) do(ctx context.Context, method, path string, q url.Values, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: encoding the request: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := c.request(ctx, method, path, q, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.send(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, res.Body)
		return nil
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decoding the answer: %w", method, path, err)
	}
	return nil
}

// seg escapes one path segment (an ID).
func seg(s string) string { return url.PathEscape(s) }
