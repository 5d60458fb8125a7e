-- The policy set. policy_set holds the one revision counter every apply
-- and delete moves; agents and evaluators name the revision they used.
-- Applies and deletes lock its row, so they queue one behind the other.
CREATE TABLE policy_set (
    id       integer PRIMARY KEY CHECK (id = 1),
    revision bigint  NOT NULL
);
INSERT INTO policy_set (id, revision) VALUES (1, 0);

-- One row per policy: body is the validated policy as JSON (what agents
-- receive), json rather than jsonb so it is compared and returned as
-- written; title, severity, platforms and expr_only are copied out of it
-- for SQL readers such as dashboards. id collates "C": bytewise order, as
-- in SQLite.
CREATE TABLE policies (
    id               text COLLATE "C" PRIMARY KEY,
    body             json        NOT NULL,
    title            text        NOT NULL,
    severity         text        NOT NULL,
    platforms        text[]      NOT NULL DEFAULT '{}',
    expr_only        boolean     NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    updated_revision bigint      NOT NULL
);

-- Each host's current result per policy. since is when the host entered
-- this status ("failing since"); policy_revision the policy set revision
-- the result was evaluated against. Re-evaluations rewrite checked_at,
-- evidence and duration, none of them indexed, so with room on the page
-- the update stays HOT.
CREATE TABLE results_current (
    host_id         bigint      NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    policy_id       text COLLATE "C" NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
    status          text        NOT NULL CHECK (status IN ('pass', 'fail', 'not_applicable', 'error')),
    evidence        json        NOT NULL DEFAULT '[]',
    error           text        NOT NULL DEFAULT '',
    checked_at      timestamptz NOT NULL,
    duration_ns     bigint      NOT NULL DEFAULT 0,
    since           timestamptz NOT NULL,
    policy_revision bigint      NOT NULL,
    PRIMARY KEY (host_id, policy_id)
) WITH (fillfactor = 80);

-- A policy's results page by host id; counts and status filters per
-- policy read the second index alone.
CREATE INDEX results_current_policy_host   ON results_current (policy_id, host_id);
CREATE INDEX results_current_policy_status ON results_current (policy_id, status, host_id);

-- Status changes, appended only when a host's status for a policy
-- changes; the first result of a host for a policy is a row with
-- from_status NULL, so the status at any time is the last row before it.
CREATE TABLE result_transitions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    host_id     bigint      NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    policy_id   text COLLATE "C" NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
    from_status text,
    to_status   text        NOT NULL,
    at          timestamptz NOT NULL,
    evidence    json        NOT NULL DEFAULT '[]'
);

CREATE INDEX result_transitions_policy_time ON result_transitions (policy_id, at, id);
CREATE INDEX result_transitions_host_time   ON result_transitions (host_id, policy_id, at, id);
CREATE INDEX result_transitions_time        ON result_transitions (at, id);
