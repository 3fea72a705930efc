-- name: CreateAPIKey :one
INSERT INTO api_keys (id, team_id, name, key_hash, prefix, is_admin, created_by, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *;

-- name: GetAPIKeyByHash :one
-- A key made by a user carries that user's standing: a disabled creator's
-- keys are refused along with their sessions.
SELECT k.*, t.disabled AS team_disabled, COALESCE(u.disabled, false)::boolean AS creator_disabled
FROM api_keys k JOIN teams t ON t.id = k.team_id LEFT JOIN users u ON u.id = k.created_by
WHERE k.key_hash = $1;

-- name: TouchAPIKey :exec
UPDATE api_keys SET last_used_at = now()
WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute');

-- name: ListAPIKeys :many
SELECT * FROM api_keys WHERE team_id = $1 ORDER BY created_at DESC;

-- name: RevokeAPIKey :one
UPDATE api_keys SET revoked_at = now()
WHERE id = $1 AND team_id = $2 AND revoked_at IS NULL RETURNING *;

-- name: CreateSession :exec
INSERT INTO sessions (token_hash, user_id, csrf_token, expires_at) VALUES ($1, $2, $3, $4);

-- name: GetSession :one
SELECT s.*, u.email, u.is_admin, u.disabled AS user_disabled
FROM sessions s JOIN users u ON u.id = s.user_id
WHERE s.token_hash = $1 AND s.expires_at > now();

-- name: DeleteSession :exec
DELETE FROM sessions WHERE token_hash = $1;

-- name: DeleteUserSessions :exec
DELETE FROM sessions WHERE user_id = $1;

-- name: DeleteExpiredSessions :execrows
DELETE FROM sessions WHERE expires_at <= now();

-- name: InsertAudit :exec
INSERT INTO audit_logs (team_id, actor_type, actor_id, action, resource_type, resource_id, request_id, details)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8);

-- name: ListAudit :many
SELECT * FROM audit_logs WHERE team_id = $1 ORDER BY at DESC, id DESC LIMIT $2;
