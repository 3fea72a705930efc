package hardening_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/warrenhq/warren/node/nodetest"
)

// checkRows checks the rows of ids in node n's database (see checkRowsPool).
func checkRows(t *testing.T, n *nodetest.Node, ids []string, want string) {
	t.Helper()
	checkRowsPool(t, n.Store().Pool, ids, want)
}

// checkRowsPool checks that every ID answered 201 has exactly one row, with
// status want (when not empty), and records the count in the tally.
func checkRowsPool(t *testing.T, pool *pgxpool.Pool, ids []string, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seen := map[string]bool{}
	lost := 0
	for _, id := range ids {
		if seen[id] {
			lost++
			t.Errorf("rows: %s answered 201 twice", id)
			continue
		}
		seen[id] = true
		var n int
		var status string
		err := pool.QueryRow(ctx, "SELECT count(*), coalesce(min(status), '') FROM sandboxes WHERE id = $1", strings.TrimPrefix(id, "sb-")).Scan(&n, &status)
		if err != nil {
			t.Fatalf("rows: %v", err)
		}
		if n != 1 {
			lost++
			t.Errorf("rows: sandbox %s has %d rows", id, n)
		} else if want != "" && status != want {
			t.Errorf("rows: sandbox %s is %s, want %s", id, status, want)
		}
	}
	tally.Rows(len(ids), lost)
}
