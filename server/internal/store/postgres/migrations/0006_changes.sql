-- Typed inventory changes, appended by ingest as sections change (see
-- package changes for the kinds). first_seen is when the agent collected
-- the inventory that showed the change. Lists run newest first by
-- (first_seen, id): per host, per kind across the fleet, or fleet-wide.
-- details is json like inventory_sections.data: kept as written.
CREATE TABLE host_changes (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    host_id    bigint NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    kind       text COLLATE "C" NOT NULL,
    subject    text COLLATE "C" NOT NULL DEFAULT '',
    old_value  text NOT NULL DEFAULT '',
    new_value  text NOT NULL DEFAULT '',
    details    json,
    first_seen timestamptz NOT NULL,
    seq        bigint NOT NULL
);

CREATE INDEX host_changes_host_time ON host_changes (host_id, first_seen, id);
CREATE INDEX host_changes_kind_time ON host_changes (kind, first_seen, id);
CREATE INDEX host_changes_time      ON host_changes (first_seen, id);
