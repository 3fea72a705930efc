// Package embedpg runs a private PostgreSQL server from the system's binaries: the
// database behind `warren dev` and behind every test binary that needs one. The
// cluster lives in a directory of its own (initdb on first use), listens only on a
// unix socket in that directory (no TCP: listen_addresses is empty), and is stopped
// cleanly by Stop. As root it runs as the `postgres` OS user, since PostgreSQL
// refuses root; the socket directory is mode 0700 and owned by that user, so only
// root and postgres can connect (authentication is trust).
package embedpg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Config says where the cluster lives.
type Config struct {
	// Dir holds the cluster (Dir/data) and the socket (Dir/run). Created if missing.
	Dir string
	// Port names the socket file (Dir/run/.s.PGSQL.<Port>); 0 means 5432. The
	// server opens no TCP port.
	Port   int
	Logger *slog.Logger
}

// Server is a running private PostgreSQL.
type Server struct {
	dir, data, sock string
	port            int
	bin             string
	cred            *syscall.Credential
	log             *slog.Logger
}

// superuser is the role initdb creates.
const superuser = "warren"

// Start initializes the cluster if needed and starts it, waiting until it accepts
// connections. A server left running by a crashed process on the same Dir is
// stopped first.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Dir == "" {
		return nil, errors.New("embedpg: Config.Dir is required")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	bin, err := findBinDir()
	if err != nil {
		return nil, err
	}
	s := &Server{dir: cfg.Dir, data: filepath.Join(cfg.Dir, "data"), sock: filepath.Join(cfg.Dir, "run"), bin: bin, log: log}
	uid, gid := -1, -1
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("embedpg: running as root needs the postgres OS user: %w", err)
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	for _, d := range []string{cfg.Dir, s.sock} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("embedpg: %w", err)
		}
		if err := os.Chmod(d, 0o700); err != nil {
			return nil, fmt.Errorf("embedpg: %w", err)
		}
		if uid >= 0 {
			if err := os.Chown(d, uid, gid); err != nil {
				return nil, fmt.Errorf("embedpg: %w", err)
			}
		}
	}
	if uid >= 0 {
		// The postgres user must be able to traverse to Dir.
		if err := ensureTraversable(cfg.Dir); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(filepath.Join(s.data, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		if err := s.initdb(ctx); err != nil {
			return nil, err
		}
	}
	// A previous process may have crashed and left the server running.
	if _, err := os.Stat(filepath.Join(s.data, "postmaster.pid")); err == nil {
		_ = s.run(ctx, "pg_ctl", "stop", "-D", s.data, "-m", "fast", "-w", "-t", "30")
	}
	if cfg.Port < 0 || cfg.Port > 65535 {
		return nil, fmt.Errorf("embedpg: Config.Port: must be 0..65535, got %d", cfg.Port)
	}
	s.port = cfg.Port
	if s.port == 0 {
		s.port = 5432
	}
	opts := fmt.Sprintf("-c listen_addresses='' -c unix_socket_permissions=0700 -p %d -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 -c shared_buffers=64MB",
		s.port, s.sock)
	if err := s.run(ctx, "pg_ctl", "start", "-D", s.data, "-w", "-t", "60", "-s",
		"-l", filepath.Join(cfg.Dir, "postgres.log"), "-o", opts); err != nil {
		return nil, fmt.Errorf("embedpg: starting postgres (log in %s): %w", filepath.Join(cfg.Dir, "postgres.log"), err)
	}
	if err := s.waitReady(ctx); err != nil {
		_ = s.Stop()
		return nil, err
	}
	log.Info("private postgres started", "dir", cfg.Dir, "socket", s.sock)
	return s, nil
}

func (s *Server) initdb(ctx context.Context) error {
	if err := os.RemoveAll(s.data); err != nil {
		return fmt.Errorf("embedpg: %w", err)
	}
	if err := s.run(ctx, "initdb", "-D", s.data, "-U", superuser, "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		return fmt.Errorf("embedpg: initdb: %w", err)
	}
	return nil
}

func (s *Server) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := pgx.Connect(ctx, s.URL("postgres"))
		if err == nil {
			c.Close(ctx)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("embedpg: server did not accept connections: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// URL returns a connection URL for database name over the unix socket.
func (s *Server) URL(name string) string {
	return fmt.Sprintf("postgres://%s@/%s?host=%s&port=%d&sslmode=disable", superuser, name, s.sock, s.port)
}

// Port returns the port number in the socket's name (there is no TCP listener).
func (s *Server) Port() int { return s.port }

// SocketDir returns the directory holding the server's unix socket.
func (s *Server) SocketDir() string { return s.sock }

// CreateDatabase creates database name unless it exists, optionally from a template.
func (s *Server) CreateDatabase(ctx context.Context, name, template string) error {
	c, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		return fmt.Errorf("embedpg: %w", err)
	}
	defer c.Close(ctx)
	var exists bool
	if err := c.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("embedpg: %w", err)
	}
	if exists {
		return nil
	}
	q := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()
	if template != "" {
		q += " TEMPLATE " + pgx.Identifier{template}.Sanitize()
	}
	if _, err := c.Exec(ctx, q); err != nil {
		return fmt.Errorf("embedpg: creating database %s: %w", name, err)
	}
	return nil
}

// DropDatabase drops database name, disconnecting its sessions.
func (s *Server) DropDatabase(ctx context.Context, name string) error {
	c, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		return fmt.Errorf("embedpg: %w", err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("embedpg: dropping database %s: %w", name, err)
	}
	return nil
}

// Stop shuts the server down (fast mode) and waits for it to exit.
func (s *Server) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := s.run(ctx, "pg_ctl", "stop", "-D", s.data, "-m", "fast", "-w", "-t", "50", "-s"); err != nil {
		return fmt.Errorf("embedpg: stopping postgres: %w", err)
	}
	s.log.Info("private postgres stopped", "dir", s.dir)
	return nil
}

func (s *Server) run(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, name), args...)
	cmd.Dir = s.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(out.String()))
	}
	return nil
}

// findBinDir locates the PostgreSQL server binaries: Debian keeps them in
// /usr/lib/postgresql/<version>/bin; otherwise they must be on PATH.
func findBinDir() (string, error) {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	sort.Slice(matches, func(i, j int) bool { return versionOf(matches[i]) > versionOf(matches[j]) })
	if len(matches) > 0 {
		return filepath.Dir(matches[0]), nil
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("embedpg: PostgreSQL server binaries not found (install the postgresql package: scripts/deps)")
}

func versionOf(p string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(p))))
	return v
}

// ensureTraversable makes every parent of dir searchable by others (o+x), as the
// postgres user must reach its cluster. Only the execute bit is added.
func ensureTraversable(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for p := filepath.Dir(abs); p != "/"; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("embedpg: %w", err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(p, fi.Mode().Perm()|0o001); err != nil {
				return fmt.Errorf("embedpg: making %s traversable for postgres: %w", p, err)
			}
		}
	}
	return nil
}
