-- Typed inventory changes, appended by ingest as sections change (see
-- package changes for the kinds). first_seen is when the agent collected
-- the inventory that showed the change. Lists run newest first by
-- (first_seen, id): per host, per kind across the fleet, or fleet-wide.
CREATE TABLE host_changes (
    id         INTEGER PRIMARY KEY,
    host_id    INTEGER NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    kind       TEXT    NOT NULL,
    subject    TEXT    NOT NULL DEFAULT '',
    old_value  TEXT    NOT NULL DEFAULT '',
    new_value  TEXT    NOT NULL DEFAULT '',
    details    TEXT, -- JSON object; NULL when none
    first_seen INTEGER NOT NULL,
    seq        INTEGER NOT NULL
) STRICT;

CREATE INDEX host_changes_host_time ON host_changes (host_id, first_seen, id);
CREATE INDEX host_changes_kind_time ON host_changes (kind, first_seen, id);
CREATE INDEX host_changes_time      ON host_changes (first_seen, id);
