-- The normalized software catalog: one row per (name, version, arch,
-- source) however many hosts have it. host_count is kept up to date by
-- ingest as links come and go, so fleet-wide counts never read
-- host_software. The UNIQUE index leads with (name, version) and is the
-- one software searches use; a separate (name, version) index would only
-- cost writes.
CREATE TABLE software (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    version    TEXT    NOT NULL,
    arch       TEXT    NOT NULL DEFAULT '',
    source     TEXT    NOT NULL,
    publisher  TEXT    NOT NULL DEFAULT '',
    host_count INTEGER NOT NULL DEFAULT 0,
    UNIQUE (name, version, arch, source)
) STRICT;

CREATE TABLE host_software (
    host_id     INTEGER NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    software_id INTEGER NOT NULL REFERENCES software (id),
    PRIMARY KEY (host_id, software_id)
) STRICT, WITHOUT ROWID;

-- "Which hosts have catalog entry X", in (software_id, host_id) order.
CREATE INDEX host_software_software_host ON host_software (software_id, host_id);
