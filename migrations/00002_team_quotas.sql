-- +goose Up
-- Per-team quotas on live (creating, running, paused) sandboxes, build sandboxes
-- not counted. A team without a row, or a NULL column, takes the operator's
-- default (the node's --team-max-* flags); 0 is unlimited.
CREATE TABLE team_quotas (
    team_id        UUID PRIMARY KEY REFERENCES teams (id) ON DELETE CASCADE,
    max_sandboxes  INTEGER CHECK (max_sandboxes >= 0),
    max_vcpus      DOUBLE PRECISION CHECK (max_vcpus >= 0),
    max_memory_mb  INTEGER CHECK (max_memory_mb >= 0),
    max_disk_mb    INTEGER CHECK (max_disk_mb >= 0),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The quota check sums a team's live sandboxes at every create.
CREATE INDEX sandboxes_team_live_idx ON sandboxes (team_id)
    WHERE status IN ('creating', 'running', 'paused') AND NOT is_build;

-- +goose Down
DROP INDEX sandboxes_team_live_idx;
DROP TABLE team_quotas;
