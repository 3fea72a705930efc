-- name: CreateTeam :one
INSERT INTO teams (id, name) VALUES ($1, $2) RETURNING *;

-- name: GetTeam :one
SELECT * FROM teams WHERE id = $1;

-- name: ListTeams :many
SELECT * FROM teams WHERE id <> '00000000-0000-0000-0000-000000000000' ORDER BY name;

-- name: SetTeamDisabled :one
UPDATE teams SET disabled = $2 WHERE id = $1 RETURNING *;

-- name: AddTeamMember :exec
INSERT INTO team_members (team_id, user_id, role) VALUES ($1, $2, $3)
ON CONFLICT (team_id, user_id) DO UPDATE SET role = EXCLUDED.role;

-- name: ListUserTeams :many
SELECT t.*, m.role FROM team_members m JOIN teams t ON t.id = m.team_id
WHERE m.user_id = $1 ORDER BY t.name;
