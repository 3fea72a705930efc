-- name: RaiseFence :one
-- A leader taking office raises the fence to its term. Monotonic: no row when
-- a newer term already holds it. Idempotent for the term that holds it.
UPDATE cluster_fence SET term = sqlc.arg(term)::bigint WHERE id = 1 AND term <= sqlc.arg(term)::bigint
RETURNING term;

-- name: LockFence :one
-- The first statement of every leader-only transaction: it reads the fence and
-- holds it FOR SHARE until commit, so a new leader's RaiseFence waits for the
-- transaction, and a transaction that starts after the raise sees it.
SELECT term FROM cluster_fence WHERE id = 1 FOR SHARE;

-- name: GetFence :one
SELECT term FROM cluster_fence WHERE id = 1;
