// Package store is Warren's access to PostgreSQL, the system of record for teams,
// users, keys, sandboxes, templates, builds and audit. Queries are written in
// store/queries and generated into store/db by sqlc (`make sqlc`); this package adds
// the connection pool, migrations (goose, under an advisory lock so nodes starting
// together do not race), transactions and the mapping of Postgres errors onto
// Warren's error categories. No other package runs SQL.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/warrenhq/warren/store/db"
)

// Error categories. Store errors wrap one of these (and the underlying error).
var (
	ErrNotFound    = errors.New("not found")
	ErrConflict    = errors.New("conflict")
	ErrInvalid     = errors.New("invalid")
	ErrUnavailable = errors.New("database unavailable")
)

// Store is a pool of connections to Warren's database plus the generated queries.
type Store struct {
	*db.Queries
	Pool *pgxpool.Pool
	log  *slog.Logger
}

// Open connects to url and checks the connection. It does not migrate.
func Open(ctx context.Context, url string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.Default()
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("%w: database URL: %v", ErrInvalid, err)
	}
	if cfg.MaxConns < 16 {
		cfg.MaxConns = 16
	}
	cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("%w: connecting to postgres: %v", ErrUnavailable, err)
	}
	return &Store{Queries: db.New(pool), Pool: pool, log: log}, nil
}

// Close closes the pool.
func (s *Store) Close() { s.Pool.Close() }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.Pool.Ping(ctx); err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return nil
}

// Tx runs fn in a transaction, committing when fn returns nil.
func (s *Store) Tx(ctx context.Context, fn func(q *db.Queries) error) error {
	tx, err := s.Pool.Begin(ctx)
	if err != nil {
		return Map(err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // after Commit this is a no-op
	if err := fn(s.Queries.WithTx(tx)); err != nil {
		return err
	}
	return Map(tx.Commit(ctx))
}

// Map turns a pgx/Postgres error into one wrapping a store category:
// no rows → ErrNotFound, unique violation → ErrConflict, check/foreign-key
// violations and bad input → ErrInvalid, connection failures → ErrUnavailable.
// Other errors are returned unchanged.
func Map(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict) || errors.Is(err, ErrInvalid) || errors.Is(err, ErrUnavailable) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code[:2] {
		case "23":
			if pgErr.Code == "23505" {
				return fmt.Errorf("%w: %w", ErrConflict, err)
			}
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		case "22":
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		case "08", "53", "57":
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		return err
	}
	if pgconn.SafeToRetry(err) || pgconn.Timeout(err) || isConnErr(err) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

func isConnErr(err error) bool {
	var ce *pgconn.ConnectError
	return errors.As(err, &ce)
}

// ConstraintName returns the violated constraint's name, or "".
func ConstraintName(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.ConstraintName
	}
	return ""
}
