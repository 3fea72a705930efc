package agent

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"

	agentv1 "github.com/warrenhq/warren/proto/agent/v1"
)

func TestUploadDownloadRoundTrip(t *testing.T) {
	a := startAgent(t)
	ctx := testCtx(t)
	data := make([]byte, 10<<20+123)
	rand.Read(data)
	n, err := a.Upload(ctx, "/data/sub/blob.bin", 0o640, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(len(data)) {
		t.Fatalf("upload reported %d bytes, want %d", n, len(data))
	}
	onDisk, err := os.ReadFile(filepath.Join(a.root, "data/sub/blob.bin"))
	if err != nil || !bytes.Equal(onDisk, data) {
		t.Fatalf("file in root differs from upload (read err %v)", err)
	}
	var got bytes.Buffer
	info, err := a.Download(ctx, "/data/sub/blob.bin", &got)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("download differs: %d bytes, want %d", got.Len(), len(data))
	}
	if info.Size != int64(len(data)) || info.Mode != 0o640 || info.Path != "/data/sub/blob.bin" || info.Name != "blob.bin" {
		t.Fatalf("download info: %+v", info)
	}
	// Replacing is atomic and keeps no temporary file.
	if _, err := a.Upload(ctx, "/data/sub/blob.bin", 0o600, strings.NewReader("small")); err != nil {
		t.Fatal(err)
	}
	got.Reset()
	if _, err := a.Download(ctx, "/data/sub/blob.bin", &got); err != nil || got.String() != "small" {
		t.Fatalf("after replace: %q, %v", got.String(), err)
	}
	assertNoTemp(t, filepath.Join(a.root, "data/sub"))
	// Empty files work too.
	if _, err := a.Upload(ctx, "/empty", 0, bytes.NewReader(nil)); err != nil {
		t.Fatal(err)
	}
	got.Reset()
	if info, err := a.Download(ctx, "/empty", &got); err != nil || got.Len() != 0 || info.Mode != 0o644 {
		t.Fatalf("empty file: %+v, %d bytes, %v", info, got.Len(), err)
	}
}

func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tempPrefix) {
			t.Fatalf("temporary file %s left in %s", e.Name(), dir)
		}
	}
}

func tempFiles(dir string) []string {
	entries, _ := os.ReadDir(dir)
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tempPrefix) {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestFileOperations(t *testing.T) {
	a := startAgent(t)
	ctx := testCtx(t)
	if err := a.MakeDir(ctx, "/a/b/c", 0o750); err != nil {
		t.Fatal(err)
	}
	if err := a.MakeDir(ctx, "/a/b/c", 0); err != nil { // idempotent
		t.Fatal(err)
	}
	for _, p := range []string{"/a/b/c/f.txt", "/a/x.txt"} {
		if _, err := a.Upload(ctx, p, 0o644, strings.NewReader("content of "+p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("b/c", filepath.Join(a.root, "a/link")); err != nil {
		t.Fatal(err)
	}
	st, err := a.Stat(ctx, "/a/b/c")
	if err != nil || !st.IsDir() || st.Mode.Perm() != 0o750 {
		t.Fatalf("stat /a/b/c: %+v, %v", st, err)
	}
	st, err = a.Stat(ctx, "a/link") // relative paths start at /
	if err != nil || st.Mode&fs.ModeSymlink == 0 || st.LinkTarget != "b/c" || st.Path != "/a/link" {
		t.Fatalf("stat /a/link: %+v, %v", st, err)
	}
	listing := func(depth int) []string {
		t.Helper()
		l, err := a.List(ctx, "/a", depth)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range l.Entries {
			out = append(out, e.Path)
		}
		return out
	}
	if got, want := strings.Join(listing(1), " "), "/a/b /a/link /a/x.txt"; got != want {
		t.Fatalf("list depth 1: %q, want %q", got, want)
	}
	if got, want := strings.Join(listing(3), " "), "/a/b /a/b/c /a/b/c/f.txt /a/link /a/x.txt"; got != want {
		t.Fatalf("list depth 3: %q, want %q", got, want)
	}

	if err := a.Rename(ctx, "/a/x.txt", "/a/b/y.txt"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Stat(ctx, "/a/x.txt"); err == nil {
		t.Fatal("old name still exists after rename")
	}
	var buf bytes.Buffer
	if _, err := a.Download(ctx, "/a/b/y.txt", &buf); err != nil || buf.String() != "content of /a/x.txt" {
		t.Fatalf("renamed file: %q, %v", buf.String(), err)
	}

	wantCode(t, a.Remove(ctx, "/a/b", false), codes.FailedPrecondition, "/a/b")
	if err := a.Remove(ctx, "/a/b/y.txt", false); err != nil {
		t.Fatal(err)
	}
	if err := a.Remove(ctx, "/a", true); err != nil {
		t.Fatal(err)
	}
	_, err = a.Stat(ctx, "/a")
	wantCode(t, err, codes.NotFound, "/a")
	wantCode(t, a.Remove(ctx, "/a", true), codes.NotFound, "/a")
}

func TestFileErrors(t *testing.T) {
	a := startAgent(t)
	ctx := testCtx(t)
	if err := a.MakeDir(ctx, "/dir", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Upload(ctx, "/file", 0o644, strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	_, err := a.Download(ctx, "/dir", io.Discard)
	wantCode(t, err, codes.InvalidArgument, "/dir", "not a regular file")
	_, err = a.Download(ctx, "/missing/file", io.Discard)
	wantCode(t, err, codes.NotFound, "/missing/file")
	_, err = a.Stat(ctx, "")
	wantCode(t, err, codes.InvalidArgument, "path")
	_, err = a.Upload(ctx, "/dir", 0o644, strings.NewReader("x"))
	wantCode(t, err, codes.InvalidArgument, "/dir")
	_, err = a.Upload(ctx, "/file/below", 0o644, strings.NewReader("x"))
	wantCode(t, err, codes.InvalidArgument, "/file")
	wantCode(t, a.MakeDir(ctx, "/file/sub", 0), codes.InvalidArgument, "/file/sub")
	wantCode(t, a.Remove(ctx, "/", true), codes.InvalidArgument, "/")
	_, err = a.List(ctx, "/file", 1)
	wantCode(t, err, codes.InvalidArgument, "/file")
	_, err = a.List(ctx, "/dir", 1000)
	wantCode(t, err, codes.InvalidArgument, "depth")
	if _, err := a.rpc.Rename(ctx, renameNoReplace("/file", "/dir")); grpcstatus.Code(err) != codes.AlreadyExists {
		t.Fatalf("rename no_replace onto /dir: %v", err)
	}
}

// TestPathsStayInRoot: symlinks to absolute paths and ".." resolve inside
// the root; nothing outside it is read or written.
func TestPathsStayInRoot(t *testing.T) {
	a := startAgent(t)
	ctx := testCtx(t)
	writeFile(t, filepath.Join(a.root, "etc/passwd"), "inside-root\n")
	outside := t.TempDir()
	writeFile(t, filepath.Join(outside, "secret"), "host secret\n")
	for name, target := range map[string]string{
		"abs":      "/etc/passwd",
		"up":       "../../..",
		"deep/up2": "../../../../../../etc",
		"out":      outside,
		"secret":   filepath.Join(outside, "secret"),
	} {
		p := filepath.Join(a.root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"/abs", "/up/etc/passwd", "/deep/up2/passwd", "../../../etc/passwd", "/deep/../../etc/passwd"} {
		var buf bytes.Buffer
		if _, err := a.Download(ctx, p, &buf); err != nil || buf.String() != "inside-root\n" {
			t.Fatalf("download %s: %q, %v (want the root's /etc/passwd)", p, buf.String(), err)
		}
	}
	// The outside directory does not exist inside the root.
	_, err := a.Download(ctx, "/secret", io.Discard)
	wantCode(t, err, codes.NotFound, "/secret")
	_, err = a.Upload(ctx, "/out/planted", 0o644, strings.NewReader("x"))
	wantCode(t, err, codes.NotFound)
	wantCode(t, a.MakeDir(ctx, "/out/sub", 0), codes.NotFound)
	// Writing over a symlink replaces the link, not its target.
	if _, err := a.Upload(ctx, "/secret", 0o644, strings.NewReader("replaced")); err != nil {
		t.Fatal(err)
	}
	// Removing a symlinked directory removes the link only.
	if err := a.Remove(ctx, "/out", true); err != nil {
		t.Fatal(err)
	}
	if err := a.Remove(ctx, "/up", true); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(outside)
	if b, err := os.ReadFile(filepath.Join(outside, "secret")); err != nil || string(b) != "host secret\n" || len(entries) != 1 {
		t.Fatalf("outside directory changed: %d entries, secret %q, %v", len(entries), b, err)
	}
	// Uploads with ".." land inside the root.
	if _, err := a.Upload(ctx, "../../../../escaped", 0o644, strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(a.root, "escaped")); err != nil {
		t.Fatalf("upload with .. did not land in the root: %v", err)
	}
}

// blockingReader yields size bytes, then blocks until release is closed,
// then fails.
type blockingReader struct {
	left    int
	release chan struct{}
}

func (r *blockingReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		<-r.release
		return 0, errors.New("source failed")
	}
	n := min(len(p), r.left)
	r.left -= n
	return n, nil
}

func TestUploadCancelledLeavesNothing(t *testing.T) {
	a := startAgent(t)
	if err := os.Mkdir(filepath.Join(a.root, "up"), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(a.root, "up")
	for _, mode := range []string{"cancel", "reader error"} {
		t.Run(mode, func(t *testing.T) {
			ctx, cancel := context.WithCancel(testCtx(t))
			defer cancel()
			src := &blockingReader{left: 1 << 20, release: make(chan struct{})}
			errc := make(chan error, 1)
			go func() {
				_, err := a.Upload(ctx, "/up/file", 0o644, src)
				errc <- err
			}()
			// The upload is under way: its temporary file exists.
			waitFor(t, 10*time.Second, "the temporary file", func() (bool, string) {
				return len(tempFiles(dir)) == 1, strings.Join(tempFiles(dir), ",")
			})
			if mode == "cancel" {
				cancel()
				wantCode(t, <-errc, codes.Canceled)
				close(src.release)
			} else {
				close(src.release)
				if err := <-errc; err == nil || !strings.Contains(err.Error(), "source failed") {
					t.Fatalf("want the reader's error, got %v", err)
				}
			}
			waitFor(t, 10*time.Second, "the temporary file to be removed", func() (bool, string) {
				return len(tempFiles(dir)) == 0, strings.Join(tempFiles(dir), ",")
			})
			if _, err := os.Lstat(filepath.Join(dir, "file")); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("target exists after a failed upload: %v", err)
			}
		})
	}
}

func renameNoReplace(from, to string) *agentv1.RenameRequest {
	return &agentv1.RenameRequest{OldPath: from, NewPath: to, NoReplace: true}
}
