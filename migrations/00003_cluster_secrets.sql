-- +goose Up
-- Secrets every node of the cluster shares, made by the first node that
-- needs one (package access signs per-sandbox access tokens and port URLs
-- with the "access" secret). A secret is never updated: rotating one means
-- a new name.
CREATE TABLE cluster_secrets (
    name        TEXT PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 64),
    secret      BYTEA NOT NULL CHECK (length(secret) >= 32),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE cluster_secrets;
