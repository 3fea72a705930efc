-- +goose Up
-- The fence for leader-only writes: the raft term of the newest leader that
-- took office. A leader raises it to its own term when it takes office
-- (never lowers it), and every write made for the leader (a build claim, the
-- reconciler's lost/failed records) runs in a transaction that holds this row
-- FOR SHARE and checks that its term is the one here, so a deposed leader
-- whose term is below the fence writes nothing.
CREATE TABLE cluster_fence (
    id    SMALLINT PRIMARY KEY CHECK (id = 1),
    term  BIGINT NOT NULL CHECK (term >= 0)
);
INSERT INTO cluster_fence (id, term) VALUES (1, 0);

-- +goose Down
DROP TABLE cluster_fence;
