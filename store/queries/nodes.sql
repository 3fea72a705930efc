-- name: UpsertNode :one
INSERT INTO nodes (id, name, http_addr, grpc_addr, role) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, http_addr = EXCLUDED.http_addr,
    grpc_addr = EXCLUDED.grpc_addr, role = EXCLUDED.role, last_seen_at = now()
RETURNING *;

-- name: GetNode :one
SELECT * FROM nodes WHERE id = $1;

-- name: ListNodes :many
SELECT * FROM nodes ORDER BY name;

-- name: SetNodeDraining :one
UPDATE nodes SET draining = $2 WHERE id = $1 RETURNING *;
