package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// Progress is called as bytes move: done so far, and total (-1 when unknown).
type Progress func(done, total int64)

// UploadOptions tune an upload. Size, when known (> 0), is sent as the
// Content-Length and is the progress total; otherwise the body streams chunked.
// Mode is the file's permissions (0 means 0644).
type UploadOptions struct {
	Size     int64
	Mode     uint32
	Progress Progress
}

// Upload streams r into the file at path inside the sandbox (written
// atomically; parent directories are created) and returns the new file's
// description.
func (c *Client) Upload(ctx context.Context, sandboxID, path string, r io.Reader, opts UploadOptions) (FileInfo, error) {
	q := url.Values{"path": {path}}
	if opts.Mode != 0 {
		q.Set("mode", fmt.Sprintf("%04o", opts.Mode))
	}
	total := opts.Size
	if total <= 0 {
		total = -1
	}
	body := io.Reader(r)
	if opts.Progress != nil {
		body = &countingReader{r: r, total: total, fn: opts.Progress}
		opts.Progress(0, total)
	}
	req, err := c.request(ctx, http.MethodPut, "/v1/sandboxes/"+seg(sandboxID)+"/files", q, io.NopCloser(body))
	if err != nil {
		return FileInfo{}, err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	if total > 0 {
		req.ContentLength = total // otherwise the body goes chunked
	}
	res, err := c.send(req)
	if err != nil {
		return FileInfo{}, fmt.Errorf("upload to %s:%s: %w", sandboxID, path, err)
	}
	defer res.Body.Close()
	var fi FileInfo
	if err := json.NewDecoder(res.Body).Decode(&fi); err != nil {
		return fi, fmt.Errorf("upload to %s:%s: decoding the answer: %w", sandboxID, path, err)
	}
	return fi, nil
}

// Download streams the file at path inside the sandbox into w and returns the
// number of bytes written. A transfer cut short is an error.
func (c *Client) Download(ctx context.Context, sandboxID, path string, w io.Writer, progress Progress) (int64, error) {
	req, err := c.request(ctx, http.MethodGet, "/v1/sandboxes/"+seg(sandboxID)+"/files", url.Values{"path": {path}}, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "application/octet-stream")
	res, err := c.send(req)
	if err != nil {
		return 0, fmt.Errorf("download %s:%s: %w", sandboxID, path, err)
	}
	defer res.Body.Close()
	src := io.Reader(res.Body)
	if progress != nil {
		src = &countingReader{r: res.Body, total: res.ContentLength, fn: progress}
		progress(0, res.ContentLength)
	}
	n, err := io.Copy(w, src)
	if err != nil {
		return n, fmt.Errorf("download %s:%s: %w", sandboxID, path, err)
	}
	if res.ContentLength >= 0 && n != res.ContentLength {
		return n, fmt.Errorf("download %s:%s: got %d of %d bytes", sandboxID, path, n, res.ContentLength)
	}
	return n, nil
}

// ListFiles lists the directory at path, down to depth levels (1-10; 0 means 1).
func (c *Client) ListFiles(ctx context.Context, sandboxID, path string, depth int) ([]FileInfo, error) {
	q := url.Values{"path": {path}}
	if depth > 0 {
		q.Set("depth", strconv.Itoa(depth))
	}
	var p Page[FileInfo]
	return p.Items, c.do(ctx, http.MethodGet, "/v1/sandboxes/"+seg(sandboxID)+"/files/list", q, nil, &p)
}

// Stat describes path (a symlink itself, not its target).
func (c *Client) Stat(ctx context.Context, sandboxID, path string) (FileInfo, error) {
	var fi FileInfo
	return fi, c.do(ctx, http.MethodGet, "/v1/sandboxes/"+seg(sandboxID)+"/files/stat", url.Values{"path": {path}}, nil, &fi)
}

// Mkdir makes a directory and its parents.
func (c *Client) Mkdir(ctx context.Context, sandboxID, path string) (FileInfo, error) {
	var fi FileInfo
	return fi, c.do(ctx, http.MethodPost, "/v1/sandboxes/"+seg(sandboxID)+"/files/mkdir", nil, map[string]string{"path": path}, &fi)
}

// Remove removes a file or an empty directory; recursive removes a tree.
func (c *Client) Remove(ctx context.Context, sandboxID, path string, recursive bool) error {
	q := url.Values{"path": {path}}
	if recursive {
		q.Set("recursive", "true")
	}
	return c.do(ctx, http.MethodDelete, "/v1/sandboxes/"+seg(sandboxID)+"/files", q, nil, nil)
}

// countingReader reports progress as it is read.
type countingReader struct {
	r     io.Reader
	done  int64
	total int64
	fn    Progress
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.done += int64(n)
		c.fn(c.done, c.total)
	}
	return n, err
}
