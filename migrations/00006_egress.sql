-- +goose Up
-- A sandbox's own outbound rules: IPv4 addresses, CIDR prefixes and domain
-- names, as the team gave them (validated by the service). Deny wins over
-- allow; a non-empty allow list makes everything else refused.
ALTER TABLE sandboxes
    ADD COLUMN allow_out TEXT[] NOT NULL DEFAULT '{}',
    ADD COLUMN deny_out  TEXT[] NOT NULL DEFAULT '{}';

-- +goose Down
ALTER TABLE sandboxes DROP COLUMN allow_out, DROP COLUMN deny_out;
