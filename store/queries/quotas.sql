-- name: LockTeamQuota :one
-- Locks the team's row until the transaction ends (creates of one team queue
-- here, so two cannot both fit the last unit of a quota) and returns the team's
-- own limits; NULL columns take the operator's default.
SELECT t.id, q.max_sandboxes, q.max_vcpus, q.max_memory_mb, q.max_disk_mb
FROM teams t LEFT JOIN team_quotas q ON q.team_id = t.id
WHERE t.id = $1
FOR UPDATE OF t;

-- name: GetTeamQuota :one
SELECT t.id, q.max_sandboxes, q.max_vcpus, q.max_memory_mb, q.max_disk_mb
FROM teams t LEFT JOIN team_quotas q ON q.team_id = t.id
WHERE t.id = $1;

-- name: SetTeamQuota :exec
INSERT INTO team_quotas (team_id, max_sandboxes, max_vcpus, max_memory_mb, max_disk_mb, updated_at)
VALUES ($1, $2, $3, $4, $5, now())
ON CONFLICT (team_id) DO UPDATE SET max_sandboxes = EXCLUDED.max_sandboxes, max_vcpus = EXCLUDED.max_vcpus,
    max_memory_mb = EXCLUDED.max_memory_mb, max_disk_mb = EXCLUDED.max_disk_mb, updated_at = now();

-- name: TeamLiveUsage :one
-- What a team's live sandboxes hold, build sandboxes not counted. vCPUs are
-- summed in thousandths, so that ten sandboxes of 0.1 make exactly 1.
SELECT count(*)::bigint AS sandboxes,
    coalesce(sum(round(vcpus::numeric * 1000)), 0)::bigint AS millivcpus,
    coalesce(sum(memory_mb), 0)::bigint AS memory_mb,
    coalesce(sum(disk_size_mb), 0)::bigint AS disk_mb
FROM sandboxes
WHERE team_id = $1 AND NOT is_build AND status IN ('creating', 'running', 'paused');
