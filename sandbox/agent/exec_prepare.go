package agent

import (
	"os"
	"path"
	"slices"
	"strings"
	"syscall"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	agentv1 "github.com/warrenhq/warren/proto/agent/v1"
)

// DefaultPath is the PATH of processes when neither the agent's environment
// nor the request sets one.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

const maxTagLen = 128

// prepare validates an ExecStart and resolves it into a launch (without
// stdio files).
func (s *server) prepare(st *agentv1.ExecStart) (*launch, error) {
	argv := st.Argv
	switch {
	case len(argv) > 0 && st.Shell != "":
		return nil, invalid("set either argv or shell, not both")
	case st.Shell != "":
		argv = []string{"/bin/sh", "-c", st.Shell}
	case len(argv) == 0:
		return nil, invalid("argv or shell is required")
	case argv[0] == "":
		return nil, invalid("argv[0] is empty")
	}
	if st.Background && (st.Stdin || st.Pty != nil || st.KeepRunning) {
		return nil, invalid("a background process cannot take stdin, a pty or keep_running")
	}
	if err := validPtySize(st.Pty); err != nil {
		return nil, err
	}
	if len(st.Tag) > maxTagLen || strings.ContainsAny(st.Tag, "\x00\n") {
		return nil, invalid("tag %q: at most %d bytes, no NUL or newline", st.Tag, maxTagLen)
	}
	timeout := st.Timeout.AsDuration()
	if st.Timeout != nil && (timeout < 0 || st.Timeout.CheckValid() != nil) {
		return nil, invalid("timeout %v is invalid", st.Timeout)
	}
	u, err := s.lookupUser(st.User)
	if err != nil {
		return nil, err
	}
	cred, err := credential(st.User, u)
	if err != nil {
		return nil, err
	}
	env, err := buildEnv(os.Environ(), u, st.Env)
	if err != nil {
		return nil, err
	}
	dir, err := workDir(st.Cwd, u.home)
	if err != nil {
		return nil, err
	}
	exe, err := lookPath(argv[0], envValue(env, "PATH"), dir)
	if err != nil {
		return nil, err
	}
	return &launch{
		path:       exe,
		argv:       argv,
		env:        env,
		dir:        dir,
		cred:       cred,
		tag:        st.Tag,
		background: st.Background,
		timeout:    timeout,

		keepRunning: st.KeepRunning,
		reqEnv:      st.Env,
	}, nil
}

// credential returns the credential to switch to u, or nil when u is the
// agent's own user.
func credential(spec string, u *user) (*syscall.Credential, error) {
	if u.uid == uint32(os.Getuid()) && u.gid == uint32(os.Getgid()) && len(u.groups) == 0 {
		return nil, nil
	}
	if os.Geteuid() != 0 {
		return nil, status.Errorf(codes.PermissionDenied, "user %q: the agent runs as uid %d and cannot switch users", spec, os.Geteuid())
	}
	return &syscall.Credential{Uid: u.uid, Gid: u.gid, Groups: u.groups}, nil
}

// buildEnv is base, then HOME/USER/LOGNAME of u, then the request's env.
func buildEnv(base []string, u *user, extra map[string]string) ([]string, error) {
	m := make(map[string]string, len(base)+len(extra)+4)
	for _, kv := range base {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			m[k] = v
		}
	}
	if m["PATH"] == "" {
		m["PATH"] = DefaultPath
	}
	m["HOME"], m["USER"], m["LOGNAME"] = u.home, u.name, u.name
	for k, v := range extra {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) {
			return nil, invalid("env %q: names must be non-empty without '=' or NUL; values without NUL", k)
		}
		m[k] = v
	}
	env := make([]string, 0, len(m))
	for k, v := range m {
		env = append(env, k+"="+v)
	}
	slices.Sort(env)
	return env, nil
}

func envValue(env []string, key string) string {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// workDir resolves the requested cwd (relative ones from home; empty means
// home when it is a directory, else "/") and checks it is a directory.
func workDir(cwd, home string) (string, error) {
	if cwd == "" {
		if fi, err := os.Stat(home); err == nil && fi.IsDir() {
			return home, nil
		}
		return "/", nil
	}
	if !path.IsAbs(cwd) {
		cwd = path.Join(home, cwd)
	}
	fi, err := os.Stat(cwd)
	if err != nil {
		return "", statusErr("cwd", cwd, err)
	}
	if !fi.IsDir() {
		return "", invalid("cwd %s is not a directory", cwd)
	}
	return cwd, nil
}

// lookPath finds name like a shell would, in the process's PATH (not the
// agent's). A name with a slash is taken as is (relative to dir).
func lookPath(name, pathEnv, dir string) (string, error) {
	if strings.Contains(name, "/") {
		p := name
		if !path.IsAbs(p) {
			p = path.Join(dir, p)
		}
		if err := isExecutable(p); err != nil {
			return "", statusErr("exec", name, err)
		}
		return p, nil
	}
	for _, d := range strings.Split(pathEnv, ":") {
		if d == "" {
			d = dir
		} else if !path.IsAbs(d) {
			d = path.Join(dir, d)
		}
		p := path.Join(d, name)
		if isExecutable(p) == nil {
			return p, nil
		}
	}
	return "", status.Errorf(codes.NotFound, "executable %q not found in PATH %q", name, pathEnv)
}

func isExecutable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return syscall.EACCES
	}
	return nil
}
