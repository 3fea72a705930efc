// Package migrations embeds Warren's SQL migrations. The first migration is the one
// consolidated schema; later ones change it. The store package applies them with
// goose at node start, under a Postgres advisory lock.
package migrations

import "embed"

// FS holds the *.sql migration files.
//
//go:embed *.sql
var FS embed.FS
