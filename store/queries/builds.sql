-- name: CreateBuild :one
INSERT INTO template_builds (id, name, team_id, base_template, recipe, status, total_steps, start_cmd,
    healthcheck, vcpus, memory_mb, disk_size_mb, step_timeout_sec, created_by)
VALUES ($1, $2, $3, $4, $5, 'queued', $6, $7, $8, $9, $10, $11, $12, $13)
RETURNING *;

-- name: GetBuild :one
SELECT * FROM template_builds WHERE id = $1;

-- name: ListBuilds :many
-- Newest first; cursor is the last ID of the previous page.
SELECT id, name, team_id, base_template, recipe, '[]'::jsonb AS logs, status, current_step, total_steps,
       start_cmd, healthcheck, vcpus, memory_mb, disk_size_mb, step_timeout_sec, error, sandbox_id, node_id,
       leader_term, template_id, size_bytes, cancel_requested, created_by, created_at, started_at, finished_at
FROM template_builds
WHERE (sqlc.narg(cursor)::uuid IS NULL OR id < sqlc.narg(cursor)::uuid)
  AND (sqlc.narg(status)::text IS NULL OR status = sqlc.narg(status)::text)
ORDER BY id DESC
LIMIT sqlc.arg(lim);

-- name: ListQueuedBuilds :many
SELECT * FROM template_builds WHERE status = 'queued' ORDER BY id LIMIT $1;

-- name: ClaimBuild :one
-- The dispatcher claims a queued build for a node with its leader term as a
-- fencing token: a build is claimed once, and only by the term that holds the
-- fence (cluster_fence; the dispatcher runs it inside store.Fenced).
UPDATE template_builds SET status = 'running', node_id = $2, leader_term = $3, started_at = now()
WHERE template_builds.id = $1 AND status = 'queued' AND leader_term <= $3
  AND $3 > 0 AND $3 = (SELECT term FROM cluster_fence WHERE cluster_fence.id = 1 FOR SHARE)
RETURNING *;

-- name: SetBuildSandbox :exec
UPDATE template_builds SET sandbox_id = $2 WHERE id = $1 AND status = 'running';

-- name: AppendBuildLog :one
-- Appends one step's log entry and advances current_step in the same statement.
UPDATE template_builds SET logs = logs || jsonb_build_array(sqlc.arg(entry)::jsonb), current_step = sqlc.arg(step)
WHERE id = sqlc.arg(id) AND status = 'running' AND node_id = sqlc.arg(node_id)
RETURNING cancel_requested;

-- name: FinishBuild :one
UPDATE template_builds SET status = 'succeeded', template_id = $2, size_bytes = $3, finished_at = now()
WHERE id = $1 AND status = 'running' AND NOT cancel_requested
RETURNING *;

-- name: FailBuild :one
UPDATE template_builds SET status = sqlc.arg(status), error = sqlc.arg(error), finished_at = now()
WHERE id = sqlc.arg(id) AND status IN ('queued', 'running')
RETURNING *;

-- name: RequestBuildCancel :one
UPDATE template_builds SET cancel_requested = true,
    status = CASE WHEN status = 'queued' THEN 'cancelled' ELSE status END,
    finished_at = CASE WHEN status = 'queued' THEN now() ELSE finished_at END
WHERE id = $1 AND status IN ('queued', 'running')
RETURNING *;

-- name: BuildCancelRequested :one
SELECT cancel_requested FROM template_builds WHERE id = $1;

-- name: FailNodeRunningBuilds :many
-- The reconciler fails the running builds of a node the cluster lost (inside
-- store.Fenced, with the sandboxes' lost record).
UPDATE template_builds SET status = 'failed', error = $2, finished_at = now()
WHERE node_id = $1 AND status = 'running'
RETURNING id;

-- name: ListNodeRunningBuilds :many
SELECT * FROM template_builds WHERE node_id = $1 AND status = 'running';

-- name: CountNodeRunningBuilds :one
SELECT count(*) FROM template_builds WHERE node_id = $1 AND status = 'running';

-- name: InflightBuildByName :one
SELECT id FROM template_builds WHERE name = $1 AND status IN ('queued', 'running') LIMIT 1;
