-- Platform templates (team_id = the all-zero UUID) are visible to every team.

-- name: CreateTemplate :one
INSERT INTO templates (id, team_id, name, type, size_bytes, vcpus, memory_mb, start_cmd, healthcheck, build_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *;

-- name: GetTemplate :one
SELECT * FROM templates WHERE id = $1;

-- name: GetTemplateByTeam :one
SELECT * FROM templates
WHERE id = $1 AND team_id IN (sqlc.arg(team_id), '00000000-0000-0000-0000-000000000000');

-- name: GetTemplateByTeamAndName :one
SELECT * FROM templates
WHERE name = $1 AND team_id IN (sqlc.arg(team_id), '00000000-0000-0000-0000-000000000000')
ORDER BY team_id = '00000000-0000-0000-0000-000000000000' LIMIT 1;

-- name: ListTemplatesByTeam :many
SELECT * FROM templates
WHERE team_id IN ($1, '00000000-0000-0000-0000-000000000000') ORDER BY name;

-- name: ListTemplatesByTeamAndType :many
SELECT * FROM templates
WHERE team_id IN ($1, '00000000-0000-0000-0000-000000000000') AND type = $2 ORDER BY name;

-- name: ListAllTemplates :many
SELECT t.*, tm.name AS team_name,
       (SELECT count(*) FROM template_replicas r WHERE r.template_id = t.id)::int AS replicas
FROM templates t JOIN teams tm ON tm.id = t.team_id ORDER BY t.name;

-- name: DeleteTemplate :execrows
DELETE FROM templates WHERE id = $1 AND team_id = $2;

-- name: UpsertTemplateReplica :exec
INSERT INTO template_replicas (template_id, node_id, path, bytes, checksum) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (template_id, node_id) DO UPDATE
SET path = EXCLUDED.path, bytes = EXCLUDED.bytes, checksum = EXCLUDED.checksum;

-- name: ListTemplateReplicas :many
SELECT * FROM template_replicas WHERE template_id = $1;

-- name: DeleteTemplateReplica :exec
DELETE FROM template_replicas WHERE template_id = $1 AND node_id = $2;

-- name: ListNodeReplicas :many
SELECT * FROM template_replicas WHERE node_id = $1;

-- name: GetPlatformOrAnyTemplateByName :one
SELECT * FROM templates WHERE name = $1 ORDER BY team_id = '00000000-0000-0000-0000-000000000000' DESC LIMIT 1;

-- name: DeleteTemplateByID :execrows
DELETE FROM templates WHERE id = $1;
