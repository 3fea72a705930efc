-- name: UpsertWarmPool :one
INSERT INTO warm_pools (template_id, vcpus, memory_mb, disk_size_mb, allow_internet_access, count, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, now())
ON CONFLICT (template_id, vcpus, memory_mb, disk_size_mb, allow_internet_access)
DO UPDATE SET count = EXCLUDED.count, updated_at = now()
RETURNING *;

-- name: ListWarmPools :many
SELECT * FROM warm_pools ORDER BY template_id, vcpus, memory_mb, disk_size_mb;

-- name: CreatePooledSandbox :one
-- A pooled sandbox's row, recorded before it starts (ip is set once it runs;
-- only a row with an ip is claimed).
INSERT INTO sandboxes (id, team_id, node_id, template_id, template_name, status, vcpus, memory_mb,
    disk_size_mb, timeout_sec, allow_internet_access, metadata)
VALUES ($1, '00000000-0000-0000-0000-000000000000', $2, $3, $4, 'pooled', $5, $6, $7, $8, $9, '{}'::jsonb)
RETURNING *;

-- name: SetPooledSandboxReady :one
UPDATE sandboxes SET ip = $2, started_at = now(), updated_at = now()
WHERE id = $1 AND status = 'pooled'
RETURNING *;

-- name: ListNodePooledSandboxes :many
SELECT * FROM sandboxes WHERE node_id = $1 AND status = 'pooled' ORDER BY id;

-- name: ClaimPooledSandbox :one
-- Takes one ready pooled sandbox of the class on the node and makes it the
-- team's, running, with its own timeout, metadata and a new token
-- generation. SKIP LOCKED: concurrent claims each take a different one.
UPDATE sandboxes SET team_id = sqlc.arg(team_id), metadata = sqlc.arg(metadata), timeout_sec = sqlc.arg(timeout_sec),
    status = 'running', token_gen = token_gen + 1, created_at = now(), started_at = now(), updated_at = now(),
    expires_at = now() + make_interval(secs => sqlc.arg(timeout_sec)::int)
WHERE id = (
    SELECT p.id FROM sandboxes p
    WHERE p.node_id = sqlc.arg(node_id) AND p.status = 'pooled' AND p.ip <> '' AND p.template_id = sqlc.arg(template_id)
      AND p.vcpus = sqlc.arg(vcpus) AND p.memory_mb = sqlc.arg(memory_mb) AND p.disk_size_mb = sqlc.arg(disk_size_mb)
      AND p.allow_internet_access = sqlc.arg(allow_internet_access)
    ORDER BY p.id LIMIT 1
    FOR UPDATE SKIP LOCKED)
RETURNING *;

-- name: KillPooledSandbox :one
UPDATE sandboxes SET status = 'killed', error = $2, updated_at = now(), ended_at = now()
WHERE id = $1 AND status = 'pooled'
RETURNING id;

-- name: KillPooledSandboxesByTemplate :many
UPDATE sandboxes SET status = 'killed', error = 'its template was deleted', updated_at = now(), ended_at = now()
WHERE template_id = $1 AND status = 'pooled'
RETURNING id, node_id;
