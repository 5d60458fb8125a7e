-- The current inventory, one row per host and section. data is the
-- section's canonical JSON exactly as the agent sent it, so its hash can be
-- checked again by anyone reading it.
CREATE TABLE inventory_sections (
    host_id    INTEGER NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    hash       TEXT    NOT NULL,
    data       TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (host_id, name)
) STRICT;
