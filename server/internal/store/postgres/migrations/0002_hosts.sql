-- Every data message updates its host's row (last_seq, last_seen). Those
-- columns are not indexed, so with free room on the page PostgreSQL can
-- update in place (HOT) without touching indexes; fillfactor leaves it.
-- hostname collates "C": paging compares bytewise, as in SQLite, and
-- comparisons are memcmp instead of locale rules.
CREATE TABLE hosts (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    node_key_hash    text NOT NULL UNIQUE,
    hostname         text COLLATE "C" NOT NULL DEFAULT '',
    os               text NOT NULL DEFAULT '',
    platform         text NOT NULL DEFAULT '',
    os_version       text NOT NULL DEFAULT '',
    arch             text NOT NULL DEFAULT '',
    agent_version    text NOT NULL DEFAULT '',
    enroll_secret_id bigint REFERENCES enroll_secrets (id) ON DELETE SET NULL,
    enrolled_at      timestamptz NOT NULL,
    last_seen        timestamptz,
    connected_at     timestamptz,
    disconnected_at  timestamptz,
    last_seq         bigint NOT NULL DEFAULT 0,
    collected_at     timestamptz,
    collect_errors   json -- section -> reason; NULL when none
) WITH (fillfactor = 70);

-- Keyset paging of ListHosts.
CREATE INDEX hosts_hostname_id ON hosts (hostname, id);
