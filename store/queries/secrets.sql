-- name: InsertClusterSecret :exec
-- The first node to start makes the secret; a concurrent or later insert
-- does nothing, and GetClusterSecret (a separate statement, so it sees the
-- winner's commit) returns the one every node uses.
INSERT INTO cluster_secrets (name, secret) VALUES ($1, $2)
ON CONFLICT (name) DO NOTHING;

-- name: GetClusterSecret :one
SELECT secret FROM cluster_secrets WHERE name = $1;
