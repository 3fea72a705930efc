-- name: CreateUser :one
INSERT INTO users (id, email, password_hash, is_admin) VALUES ($1, $2, $3, $4) RETURNING *;

-- name: GetUser :one
SELECT * FROM users WHERE id = $1;

-- name: GetUserByEmail :one
SELECT * FROM users WHERE lower(email) = lower($1);

-- name: ListUsers :many
SELECT * FROM users ORDER BY email;

-- name: SetUserDisabled :one
UPDATE users SET disabled = $2 WHERE id = $1 RETURNING *;

-- name: CountUsers :one
SELECT count(*) FROM users;

-- name: AdvisoryXactLock :exec
SELECT pg_advisory_xact_lock($1);
