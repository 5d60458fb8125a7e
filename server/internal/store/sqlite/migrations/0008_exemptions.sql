-- Labels people put on hosts; exemptions can match them.
CREATE TABLE host_labels (
    host_id INTEGER NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    key     TEXT    NOT NULL,
    value   TEXT    NOT NULL,
    PRIMARY KEY (host_id, key)
) STRICT, WITHOUT ROWID;

CREATE INDEX host_labels_key_value ON host_labels (key, value, host_id);

-- An exemption excuses one host (host_id) or every host carrying all of
-- its labels (label_count rows in exemption_labels; labels keeps them as
-- given, a JSON object) from one policy until expires_at. Whether it is
-- active is decided when read, so expiry needs no job. policy_id has no
-- foreign key: an exemption outlives its policy being deleted and
-- applied again.
CREATE TABLE exemptions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    policy_id   TEXT    NOT NULL,
    host_id     INTEGER REFERENCES hosts (id) ON DELETE CASCADE,
    labels      TEXT    NOT NULL DEFAULT '{}',
    label_count INTEGER NOT NULL DEFAULT 0,
    reason      TEXT    NOT NULL,
    owner       TEXT    NOT NULL,
    expires_at  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    created_by  TEXT    NOT NULL,
    revoked_at  INTEGER,
    revoked_by  TEXT    NOT NULL DEFAULT '',
    CHECK ((host_id IS NULL) <> (label_count = 0))
) STRICT;

CREATE INDEX exemptions_policy ON exemptions (policy_id, expires_at) WHERE revoked_at IS NULL;

CREATE TABLE exemption_labels (
    exemption_id INTEGER NOT NULL REFERENCES exemptions (id) ON DELETE CASCADE,
    key          TEXT    NOT NULL,
    value        TEXT    NOT NULL,
    PRIMARY KEY (exemption_id, key)
) STRICT, WITHOUT ROWID;

-- Who changed policies, exemptions and labels, when, and what.
CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    actor   TEXT    NOT NULL,
    action  TEXT    NOT NULL,
    subject TEXT    NOT NULL DEFAULT '',
    detail  TEXT    NOT NULL DEFAULT '{}'
) STRICT;

CREATE INDEX audit_log_action ON audit_log (action, id);
