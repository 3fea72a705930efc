-- name: CountNodeLiveSandboxesByStatus :many
-- A node's live sandboxes by status, for its /metrics.
SELECT status, count(*)::bigint AS n FROM sandboxes
WHERE node_id = $1 AND status IN ('creating', 'running', 'paused')
GROUP BY status;

-- name: CountNodeBuildsByStatus :many
-- A node's builds by status, plus the queued ones (claimed by no node yet).
SELECT status, count(*)::bigint AS n FROM template_builds
WHERE node_id = $1 OR status = 'queued'
GROUP BY status;
