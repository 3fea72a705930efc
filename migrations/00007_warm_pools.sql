-- +goose Up
-- Warm pools: per template and size class, how many pre-started sandboxes
-- each node keeps ready. A pooled sandbox is a sandboxes row in state
-- 'pooled' owned by the platform team, never shown to teams; a create of the
-- same class claims one (it becomes the caller's, running) in the create's
-- quota transaction. token_gen counts the claims of a row: the access token
-- is derived from the sandbox ID and this generation, so a claimed sandbox
-- answers a token nobody saw before.
ALTER TABLE sandboxes DROP CONSTRAINT sandboxes_status_check;
ALTER TABLE sandboxes ADD CONSTRAINT sandboxes_status_check CHECK (status IN
    ('creating', 'running', 'paused', 'killed', 'expired', 'failed', 'lost', 'pooled'));
ALTER TABLE sandboxes ADD COLUMN token_gen INTEGER NOT NULL DEFAULT 0;
CREATE INDEX sandboxes_pooled ON sandboxes (node_id, template_id) WHERE status = 'pooled';

CREATE TABLE warm_pools (
    template_id            UUID NOT NULL REFERENCES templates (id) ON DELETE CASCADE,
    vcpus                  REAL NOT NULL CHECK (vcpus > 0),
    memory_mb              INTEGER NOT NULL CHECK (memory_mb > 0),
    disk_size_mb           INTEGER NOT NULL CHECK (disk_size_mb > 0),
    allow_internet_access  BOOLEAN NOT NULL,
    count                  INTEGER NOT NULL CHECK (count >= 0),
    updated_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (template_id, vcpus, memory_mb, disk_size_mb, allow_internet_access)
);

-- +goose Down
DROP TABLE warm_pools;
DROP INDEX sandboxes_pooled;
ALTER TABLE sandboxes DROP COLUMN token_gen;
DELETE FROM sandboxes WHERE status = 'pooled';
ALTER TABLE sandboxes DROP CONSTRAINT sandboxes_status_check;
ALTER TABLE sandboxes ADD CONSTRAINT sandboxes_status_check CHECK (status IN
    ('creating', 'running', 'paused', 'killed', 'expired', 'failed', 'lost'));
