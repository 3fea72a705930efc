-- name: CreateSandbox :one
INSERT INTO sandboxes (id, team_id, node_id, template_id, template_name, status, vcpus, memory_mb,
    disk_size_mb, timeout_sec, allow_internet_access, is_build, metadata, expires_at,
    allow_out, deny_out)
VALUES ($1, $2, $3, $4, $5, 'creating', $6, $7, $8, $9, $10, $11, $12, $13,
    COALESCE(sqlc.arg(allow_out)::text[], '{}'), COALESCE(sqlc.arg(deny_out)::text[], '{}'))
RETURNING *;

-- name: SetSandboxEgress :one
UPDATE sandboxes SET allow_out = COALESCE(sqlc.arg(allow_out)::text[], '{}'), deny_out = COALESCE(sqlc.arg(deny_out)::text[], '{}'), updated_at = now()
WHERE id = $1 AND team_id = $2 AND status IN ('creating', 'running', 'paused')
RETURNING *;

-- name: GetSandbox :one
SELECT * FROM sandboxes WHERE id = $1;

-- name: GetSandboxByTeam :one
SELECT * FROM sandboxes WHERE id = $1 AND team_id = $2 AND status <> 'pooled';

-- name: ListSandboxes :many
-- Newest first; cursor is the last ID of the previous page (UUIDv7 sorts by time).
SELECT * FROM sandboxes
WHERE team_id = sqlc.arg(team_id) AND status <> 'pooled'
  AND (sqlc.narg(cursor)::uuid IS NULL OR id < sqlc.narg(cursor)::uuid)
  AND (cardinality(sqlc.arg(statuses)::text[]) = 0 OR status = ANY(sqlc.arg(statuses)::text[]))
  AND (sqlc.narg(template_name)::text IS NULL OR template_name = sqlc.narg(template_name)::text)
  AND metadata @> sqlc.arg(metadata)::jsonb
  AND (sqlc.arg(include_builds)::bool OR NOT is_build)
ORDER BY id DESC
LIMIT sqlc.arg(lim);

-- name: ListSandboxesOldestFirst :many
-- ListSandboxes in the other order; cursor is the last ID of the previous page.
SELECT * FROM sandboxes
WHERE team_id = sqlc.arg(team_id) AND status <> 'pooled'
  AND (sqlc.narg(cursor)::uuid IS NULL OR id > sqlc.narg(cursor)::uuid)
  AND (cardinality(sqlc.arg(statuses)::text[]) = 0 OR status = ANY(sqlc.arg(statuses)::text[]))
  AND (sqlc.narg(template_name)::text IS NULL OR template_name = sqlc.narg(template_name)::text)
  AND metadata @> sqlc.arg(metadata)::jsonb
  AND (sqlc.arg(include_builds)::bool OR NOT is_build)
ORDER BY id ASC
LIMIT sqlc.arg(lim);

-- name: ListAllSandboxes :many
SELECT * FROM sandboxes
WHERE (sqlc.narg(cursor)::uuid IS NULL OR id < sqlc.narg(cursor)::uuid)
  AND (cardinality(sqlc.arg(statuses)::text[]) = 0 OR status = ANY(sqlc.arg(statuses)::text[]))
ORDER BY id DESC
LIMIT sqlc.arg(lim);

-- name: ListNodeLiveSandboxes :many
SELECT * FROM sandboxes WHERE node_id = $1 AND status IN ('creating', 'running', 'paused', 'pooled');

-- name: SetSandboxStatus :one
-- Moves a sandbox from one of the expected states to a new one; no row means the
-- sandbox was not in an expected state (a concurrent transition won).
UPDATE sandboxes SET status = sqlc.arg(status), error = sqlc.arg(error), updated_at = now(),
    started_at = CASE WHEN sqlc.arg(status) = 'running' AND started_at IS NULL THEN now() ELSE started_at END,
    ended_at = CASE WHEN sqlc.arg(status) IN ('killed', 'expired', 'failed', 'lost') THEN now() ELSE ended_at END
WHERE id = sqlc.arg(id) AND status = ANY(sqlc.arg(from_statuses)::text[])
RETURNING *;

-- name: SetSandboxRunning :one
UPDATE sandboxes SET status = 'running', ip = $2, updated_at = now(), started_at = now(),
    expires_at = now() + make_interval(secs => timeout_sec)
WHERE id = $1 AND status = 'creating'
RETURNING *;

-- name: SetSandboxTimeout :one
UPDATE sandboxes SET timeout_sec = $2, expires_at = now() + make_interval(secs => $2::int), updated_at = now()
WHERE id = $1 AND status IN ('running', 'paused')
RETURNING *;

-- name: ListExpiredSandboxes :many
SELECT * FROM sandboxes
WHERE node_id = $1 AND status IN ('running', 'paused') AND expires_at <= now();

-- name: MarkNodeSandboxesLost :many
UPDATE sandboxes SET status = 'lost', error = $2, updated_at = now(), ended_at = now()
WHERE node_id = $1 AND status IN ('creating', 'running', 'paused', 'pooled')
RETURNING id;

-- name: CountLiveSandboxesByTemplate :one
SELECT count(*) FROM sandboxes WHERE template_id = $1 AND status IN ('creating', 'running', 'paused');

-- name: NodeLiveUsage :one
SELECT count(*)::int AS sandboxes, coalesce(sum(vcpus), 0)::float8 AS vcpus, coalesce(sum(memory_mb), 0)::bigint AS memory_mb
FROM sandboxes WHERE node_id = $1 AND status IN ('creating', 'running', 'paused', 'pooled');
