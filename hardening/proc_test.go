package hardening_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/warrenhq/warren/node/nodetest"
)

// procNode is `warren node` run as a subprocess (nodetest.Proc), so that it
// can be SIGKILLed, with a pool on its database for checking its rows.
type procNode struct {
	*nodetest.Proc
	dataDir string
	// args are flags added to the node's command line at each start.
	args []string
	db   *pgxpool.Pool
}

// newProcNode prepares a node on a fresh database, its own data dir, a
// bridge and a /24 of 10.99.0.0/16 (apart from nodetest's 10.100-249 and
// nodetest.Proc's default 10.250-254); everything is removed by exact name
// when t ends.
func newProcNode(t *testing.T) *procNode {
	t.Helper()
	var b [3]byte
	_, _ = rand.Read(b[:])
	p := &procNode{Proc: nodetest.NewProc(t, nodetest.ProcNetwork(fmt.Sprintf("wh%02x%02x%02x", b[0], b[1], b[2]), fmt.Sprintf("10.99.%d.0/24", b[0])))}
	p.dataDir = p.DataDir
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var err error
	if p.db, err = pgxpool.New(ctx, p.DatabaseURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.db.Close) // before the node is killed and its database dropped
	return p
}

// start runs the node with p.args and waits until its API is ready.
func (p *procNode) start() {
	p.Args = p.args
	p.Start()
}

// stop signals the node and waits for it to exit.
func (p *procNode) stop(sig syscall.Signal) { p.Stop(sig) }

// client is an API client with the bootstrap admin's key.
func (p *procNode) client() *client { return &client{url: p.URL, key: p.APIKey()} }
