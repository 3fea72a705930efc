package envd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/sandbox/agent"
)

const (
	// accountsTTL is how long a sandbox's /etc/passwd and /etc/group are
	// reused: relative paths and owner names need them on most calls.
	accountsTTL = 5 * time.Second
	// maxAccountFile bounds the passwd/group files read.
	maxAccountFile = 1 << 20
	// maxCachedSandboxes bounds the cache.
	maxCachedSandboxes = 256
)

// accounts are a sandbox's users and groups.
type accounts struct {
	at     time.Time
	homes  map[string]string // user name → home
	users  map[uint32]string // uid → name
	groups map[uint32]string // gid → name
}

type accountCache struct {
	mu sync.Mutex
	m  map[id.SandboxID]*accounts
}

func newAccountCache() *accountCache { return &accountCache{m: make(map[id.SandboxID]*accounts)} }

// get returns the accounts of c's sandbox, read through its agent.
func (ac *accountCache) get(ctx context.Context, c *call) (*accounts, error) {
	ac.mu.Lock()
	a := ac.m[c.sb]
	ac.mu.Unlock()
	if a != nil && time.Since(a.at) < accountsTTL {
		return a, nil
	}
	a = &accounts{at: time.Now(), homes: map[string]string{}, users: map[uint32]string{}, groups: map[uint32]string{}}
	if err := readDB(ctx, c.agent, "/etc/passwd", func(f []string) {
		if len(f) >= 7 {
			a.homes[f[0]] = f[5]
			if uid, err := strconv.ParseUint(f[2], 10, 32); err == nil {
				a.users[uint32(uid)] = f[0]
			}
		}
	}); err != nil {
		return nil, err
	}
	if err := readDB(ctx, c.agent, "/etc/group", func(f []string) {
		if len(f) >= 3 {
			if gid, err := strconv.ParseUint(f[2], 10, 32); err == nil {
				a.groups[uint32(gid)] = f[0]
			}
		}
	}); err != nil {
		return nil, err
	}
	ac.mu.Lock()
	if len(ac.m) >= maxCachedSandboxes {
		for k, v := range ac.m {
			if time.Since(v.at) >= accountsTTL || len(ac.m) >= maxCachedSandboxes {
				delete(ac.m, k)
			}
		}
	}
	ac.m[c.sb] = a
	ac.mu.Unlock()
	return a, nil
}

// readDB calls fn with the fields of each line of a passwd-style file; a
// missing file is empty.
func readDB(ctx context.Context, a *agent.Client, p string, fn func([]string)) error {
	var buf limitedBuffer
	buf.max = maxAccountFile
	if _, err := a.Download(ctx, p, &buf); err != nil {
		if status.Code(err) == codes.NotFound {
			return nil
		}
		return err
	}
	sc := bufio.NewScanner(bytes.NewReader(buf.Bytes()))
	for sc.Scan() {
		if line := sc.Text(); line != "" && line[0] != '#' {
			fn(strings.Split(line, ":"))
		}
	}
	return nil
}

type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.max {
		return 0, errors.New("account file too large")
	}
	return b.Buffer.Write(p)
}

// resolve makes p absolute: relative paths (and "") are taken from the
// call user's home, as envd does.
func (h *Handler) resolve(ctx context.Context, c *call, field, p string) (string, error) {
	if strings.IndexByte(p, 0) >= 0 {
		return "", invalidArg("%s contains a NUL byte", field)
	}
	if strings.HasPrefix(p, "/") {
		return path.Clean(p), nil
	}
	acc, err := h.accounts.get(ctx, c)
	if err != nil {
		return "", connectErr(ctx, h.log, err)
	}
	home, ok := acc.homes[c.user]
	if !ok {
		if _, err := strconv.ParseUint(c.user, 10, 32); err != nil {
			return "", invalidArg("user %q is not in the sandbox's /etc/passwd", c.user)
		}
		home = "/"
	}
	return path.Join(home, p), nil
}
