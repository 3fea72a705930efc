-- +goose Up
-- Warren's consolidated schema. Every entity ID is a UUID; the prefixed wire form
-- ("sb-…", "team-…") exists only at API and RPC boundaries. TEXT is used for names and
-- for the polymorphic audit columns only.

CREATE TABLE teams (
    id          UUID PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 128),
    disabled    BOOLEAN NOT NULL DEFAULT false,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The platform team owns templates every team can see.
INSERT INTO teams (id, name) VALUES ('00000000-0000-0000-0000-000000000000', 'platform');

CREATE TABLE users (
    id             UUID PRIMARY KEY,
    email          TEXT NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    password_hash  TEXT NOT NULL,
    is_admin       BOOLEAN NOT NULL DEFAULT false,
    disabled       BOOLEAN NOT NULL DEFAULT false,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE team_members (
    team_id     UUID NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id     UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role        TEXT NOT NULL CHECK (role IN ('owner', 'member')),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user_idx ON team_members (user_id);

CREATE TABLE api_keys (
    id            UUID PRIMARY KEY,
    team_id       UUID NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    name          TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
    key_hash      BYTEA NOT NULL UNIQUE,   -- sha256 of the secret
    prefix        TEXT NOT NULL,           -- first characters, for display only
    is_admin      BOOLEAN NOT NULL DEFAULT false,  -- may call admin routes
    created_by    UUID REFERENCES users (id) ON DELETE SET NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at  TIMESTAMPTZ,
    expires_at    TIMESTAMPTZ,
    revoked_at    TIMESTAMPTZ
);
CREATE INDEX api_keys_team_idx ON api_keys (team_id);

CREATE TABLE sessions (
    token_hash  BYTEA PRIMARY KEY,         -- sha256 of the cookie value
    user_id     UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token  TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

CREATE TABLE nodes (
    id           UUID PRIMARY KEY,
    name         TEXT NOT NULL,
    http_addr    TEXT NOT NULL DEFAULT '',
    grpc_addr    TEXT NOT NULL DEFAULT '',
    role         TEXT NOT NULL DEFAULT 'server' CHECK (role IN ('server', 'client')),
    draining     BOOLEAN NOT NULL DEFAULT false,
    last_seen_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE templates (
    id           UUID PRIMARY KEY,
    team_id      UUID NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    name         TEXT NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
    type         TEXT NOT NULL CHECK (type IN ('image', 'snapshot')),
    size_bytes   BIGINT NOT NULL DEFAULT 0 CHECK (size_bytes >= 0),
    vcpus        REAL NOT NULL DEFAULT 1 CHECK (vcpus > 0),
    memory_mb    INTEGER NOT NULL DEFAULT 512 CHECK (memory_mb > 0),
    start_cmd    TEXT NOT NULL DEFAULT '',
    healthcheck  JSONB,
    build_id     UUID,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (team_id, name)
);

-- A team template cannot take a platform template's name (and the reverse): one
-- name must resolve to one template for every team.
-- +goose StatementBegin
CREATE FUNCTION templates_check_platform_name() RETURNS trigger AS $$
BEGIN
    IF NEW.team_id <> '00000000-0000-0000-0000-000000000000' AND EXISTS (
        SELECT 1 FROM templates
        WHERE team_id = '00000000-0000-0000-0000-000000000000' AND name = NEW.name) THEN
        RAISE EXCEPTION 'template name "%" is taken by a platform template', NEW.name
            USING ERRCODE = 'unique_violation', CONSTRAINT = 'templates_platform_name';
    END IF;
    IF NEW.team_id = '00000000-0000-0000-0000-000000000000' AND EXISTS (
        SELECT 1 FROM templates
        WHERE team_id <> '00000000-0000-0000-0000-000000000000' AND name = NEW.name) THEN
        RAISE EXCEPTION 'template name "%" is taken by a team template', NEW.name
            USING ERRCODE = 'unique_violation', CONSTRAINT = 'templates_platform_name';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd
CREATE TRIGGER templates_platform_name BEFORE INSERT OR UPDATE OF name, team_id ON templates
    FOR EACH ROW EXECUTE FUNCTION templates_check_platform_name();

CREATE TABLE template_replicas (
    template_id  UUID NOT NULL REFERENCES templates (id) ON DELETE CASCADE,
    node_id      UUID NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    path         TEXT NOT NULL,
    bytes        BIGINT NOT NULL CHECK (bytes >= 0),
    checksum     TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (template_id, node_id)
);

CREATE TABLE sandboxes (
    id                     UUID PRIMARY KEY,
    team_id                UUID NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    node_id                UUID REFERENCES nodes (id) ON DELETE SET NULL,
    template_id            UUID REFERENCES templates (id) ON DELETE SET NULL,
    template_name          TEXT NOT NULL,
    status                 TEXT NOT NULL CHECK (status IN
                             ('creating', 'running', 'paused', 'killed', 'expired', 'failed', 'lost')),
    vcpus                  REAL NOT NULL CHECK (vcpus > 0),
    memory_mb              INTEGER NOT NULL CHECK (memory_mb > 0),
    disk_size_mb           INTEGER NOT NULL DEFAULT 20480 CHECK (disk_size_mb > 0),
    timeout_sec            INTEGER NOT NULL CHECK (timeout_sec > 0),
    allow_internet_access  BOOLEAN NOT NULL DEFAULT true,
    is_build               BOOLEAN NOT NULL DEFAULT false,
    ip                     TEXT NOT NULL DEFAULT '',
    metadata               JSONB NOT NULL DEFAULT '{}'::jsonb,
    error                  TEXT NOT NULL DEFAULT '',
    created_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at             TIMESTAMPTZ,
    expires_at             TIMESTAMPTZ,
    ended_at               TIMESTAMPTZ
);
CREATE INDEX sandboxes_team_idx ON sandboxes (team_id, id DESC);
CREATE INDEX sandboxes_node_live_idx ON sandboxes (node_id)
    WHERE status IN ('creating', 'running', 'paused');
CREATE INDEX sandboxes_metadata_idx ON sandboxes USING gin (metadata jsonb_path_ops);

CREATE TABLE template_builds (
    id             UUID PRIMARY KEY,
    name           TEXT NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
    team_id        UUID NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    base_template  TEXT NOT NULL,
    recipe         JSONB NOT NULL,
    logs           JSONB NOT NULL DEFAULT '[]'::jsonb,
    status         TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    current_step   INTEGER NOT NULL DEFAULT 0 CHECK (current_step >= 0),
    total_steps    INTEGER NOT NULL CHECK (total_steps > 0),
    start_cmd      TEXT NOT NULL DEFAULT '',
    healthcheck    JSONB,
    vcpus          REAL NOT NULL CHECK (vcpus > 0),
    memory_mb      INTEGER NOT NULL CHECK (memory_mb > 0),
    disk_size_mb   INTEGER NOT NULL DEFAULT 20480 CHECK (disk_size_mb > 0),
    step_timeout_sec INTEGER NOT NULL DEFAULT 600 CHECK (step_timeout_sec > 0),
    error          TEXT NOT NULL DEFAULT '',
    sandbox_id     UUID,
    node_id        UUID REFERENCES nodes (id) ON DELETE SET NULL,
    leader_term    BIGINT NOT NULL DEFAULT 0,
    template_id    UUID REFERENCES templates (id) ON DELETE SET NULL,
    size_bytes     BIGINT NOT NULL DEFAULT 0,
    cancel_requested BOOLEAN NOT NULL DEFAULT false,
    created_by     UUID REFERENCES users (id) ON DELETE SET NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at     TIMESTAMPTZ,
    finished_at    TIMESTAMPTZ
);
CREATE INDEX template_builds_status_idx ON template_builds (status, id);
-- One in-flight build per name.
CREATE UNIQUE INDEX template_builds_inflight_name ON template_builds (name)
    WHERE status IN ('queued', 'running');

CREATE TABLE audit_logs (
    id             BIGSERIAL PRIMARY KEY,
    at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    team_id        UUID,
    actor_type     TEXT NOT NULL,   -- 'user', 'api_key', 'system'
    actor_id       TEXT NOT NULL,   -- polymorphic: a usr-/key- wire ID or a node name
    action         TEXT NOT NULL,
    resource_type  TEXT NOT NULL,
    resource_id    TEXT NOT NULL,   -- polymorphic wire ID
    request_id     TEXT NOT NULL DEFAULT '',
    details        JSONB NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_logs_team_idx ON audit_logs (team_id, at DESC);

-- +goose Down
DROP TABLE audit_logs;
DROP TABLE template_builds;
DROP TABLE sandboxes;
DROP TABLE template_replicas;
DROP TRIGGER templates_platform_name ON templates;
DROP FUNCTION templates_check_platform_name();
DROP TABLE templates;
DROP TABLE nodes;
DROP TABLE sessions;
DROP TABLE api_keys;
DROP TABLE team_members;
DROP TABLE users;
DROP TABLE teams;
