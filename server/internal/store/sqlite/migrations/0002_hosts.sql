-- AUTOINCREMENT so that a host id, which agents keep in their state, is
-- never handed out twice even after the newest host is deleted.
CREATE TABLE hosts (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    node_key_hash    TEXT    NOT NULL UNIQUE,
    hostname         TEXT    NOT NULL DEFAULT '',
    os               TEXT    NOT NULL DEFAULT '',
    platform         TEXT    NOT NULL DEFAULT '',
    os_version       TEXT    NOT NULL DEFAULT '',
    arch             TEXT    NOT NULL DEFAULT '',
    agent_version    TEXT    NOT NULL DEFAULT '',
    enroll_secret_id INTEGER REFERENCES enroll_secrets (id) ON DELETE SET NULL,
    enrolled_at      INTEGER NOT NULL,
    last_seen        INTEGER,
    connected_at     INTEGER,
    disconnected_at  INTEGER,
    last_seq         INTEGER NOT NULL DEFAULT 0,
    collected_at     INTEGER,
    collect_errors   TEXT -- JSON object section -> reason; NULL when none
) STRICT;

-- Keyset paging of ListHosts.
CREATE INDEX hosts_hostname_id ON hosts (hostname, id);
