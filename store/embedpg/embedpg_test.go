package embedpg_test

import (
	"context"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/warrenhq/warren/store/embedpg"
)

// The server answers on its unix socket only: the socket directory is private to
// the postgres user, and its port number is not open on TCP.
func TestSocketOnly(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("TestSocketOnly must run as root (embedpg runs postgres as the postgres user)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()

	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := embedpg.Start(ctx, embedpg.Config{Dir: dir, Port: port})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	})

	// Over the socket: accepted.
	c, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		t.Fatalf("socket connect: %v", err)
	}
	var one int
	if err := c.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 = %d, %v", one, err)
	}
	var listen string
	if err := c.QueryRow(ctx, "SHOW listen_addresses").Scan(&listen); err != nil || listen != "" {
		t.Fatalf("listen_addresses = %q, %v; want empty", listen, err)
	}
	c.Close(ctx)

	// Over TCP, on its port number: refused.
	for _, h := range []string{"127.0.0.1", "::1"} {
		a := net.JoinHostPort(h, strconv.Itoa(port))
		if conn, err := net.DialTimeout("tcp", a, time.Second); err == nil {
			conn.Close()
			t.Fatalf("TCP %s accepted", a)
		} else {
			t.Logf("TCP %s: %v", a, err)
		}
	}
	tcpURL := "postgres://warren@127.0.0.1:" + strconv.Itoa(port) + "/postgres?sslmode=disable&connect_timeout=2"
	if c, err := pgx.Connect(ctx, tcpURL); err == nil {
		c.Close(ctx)
		t.Fatal("pgx over TCP connected")
	}

	// The socket directory: mode 0700, owned by postgres.
	pg, err := user.Lookup("postgres")
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(s.SocketDir())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 || strconv.Itoa(int(fi.Sys().(*syscall.Stat_t).Uid)) != pg.Uid {
		t.Fatalf("socket dir %s: mode %v uid %d, want 0700 owned by postgres (%s)", s.SocketDir(), fi.Mode().Perm(), fi.Sys().(*syscall.Stat_t).Uid, pg.Uid)
	}
	if _, err := os.Stat(filepath.Join(s.SocketDir(), ".s.PGSQL."+strconv.Itoa(port))); err != nil {
		t.Fatalf("socket file: %v", err)
	}
}
