-- The policy set. policy_set holds the one revision counter every apply
-- and delete moves; agents and evaluators name the revision they used.
CREATE TABLE policy_set (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    revision INTEGER NOT NULL
) STRICT;
INSERT INTO policy_set (id, revision) VALUES (1, 0);

-- One row per policy: body is the validated policy as JSON (what agents
-- receive); title, severity, platforms (a JSON array) and expr_only are
-- copied out of it for SQL readers such as dashboards.
CREATE TABLE policies (
    id               TEXT    PRIMARY KEY,
    body             TEXT    NOT NULL,
    title            TEXT    NOT NULL,
    severity         TEXT    NOT NULL,
    platforms        TEXT    NOT NULL DEFAULT '[]',
    expr_only        INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    updated_revision INTEGER NOT NULL
) STRICT;

-- Each host's current result per policy. since is when the host entered
-- this status ("failing since"); policy_revision the policy set revision
-- the result was evaluated against. evidence is a JSON array. Not
-- WITHOUT ROWID: evidence makes rows up to 64 KiB, too large for it.
CREATE TABLE results_current (
    host_id         INTEGER NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    policy_id       TEXT    NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
    status          TEXT    NOT NULL CHECK (status IN ('pass', 'fail', 'not_applicable', 'error')),
    evidence        TEXT    NOT NULL DEFAULT '[]',
    error           TEXT    NOT NULL DEFAULT '',
    checked_at      INTEGER NOT NULL,
    duration_ns     INTEGER NOT NULL DEFAULT 0,
    since           INTEGER NOT NULL,
    policy_revision INTEGER NOT NULL,
    PRIMARY KEY (host_id, policy_id)
) STRICT;

-- A policy's results page by host id; counts and status filters per
-- policy read the second index alone.
CREATE INDEX results_current_policy_host   ON results_current (policy_id, host_id);
CREATE INDEX results_current_policy_status ON results_current (policy_id, status, host_id);

-- Status changes, appended only when a host's status for a policy
-- changes; the first result of a host for a policy is a row with
-- from_status NULL, so the status at any time is the last row before it.
CREATE TABLE result_transitions (
    id          INTEGER PRIMARY KEY,
    host_id     INTEGER NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    policy_id   TEXT    NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
    from_status TEXT,
    to_status   TEXT    NOT NULL,
    at          INTEGER NOT NULL,
    evidence    TEXT    NOT NULL DEFAULT '[]'
) STRICT;

CREATE INDEX result_transitions_policy_time ON result_transitions (policy_id, at, id);
CREATE INDEX result_transitions_host_time   ON result_transitions (host_id, policy_id, at, id);
CREATE INDEX result_transitions_time        ON result_transitions (at, id);
