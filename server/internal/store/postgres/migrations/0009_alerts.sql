-- One row per alert episode of (rule, host_id, subject). At most one
-- episode of a triple is open (not resolved) at a time: the partial unique
-- index makes a second open a no-op, whoever races to write it.
CREATE TABLE alerts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule        text COLLATE "C" NOT NULL,
    host_id     bigint      NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    subject     text COLLATE "C" NOT NULL DEFAULT '',
    severity    text        NOT NULL,
    state       text        NOT NULL CHECK (state IN ('firing', 'acknowledged', 'resolved')),
    labels      json        NOT NULL DEFAULT '{}',
    annotations json        NOT NULL DEFAULT '{}',
    started_at  timestamptz NOT NULL,
    acked_at    timestamptz,
    acked_by    text        NOT NULL DEFAULT '',
    ack_comment text        NOT NULL DEFAULT '',
    resolved_at timestamptz,
    muted       boolean     NOT NULL DEFAULT false,
    notified    boolean     NOT NULL DEFAULT false
);

CREATE UNIQUE INDEX alerts_open_episode ON alerts (rule, host_id, subject) WHERE state <> 'resolved';
CREATE INDEX alerts_open ON alerts (id) WHERE state <> 'resolved';
CREATE INDEX alerts_host ON alerts (host_id, id);
CREATE INDEX alerts_rule ON alerts (rule, id);

-- The outbox: one row per event of one alert for one receiver, written in
-- the transaction that changed the alert. attempts is bumped by each
-- claim and doubles as the claim's token.
CREATE TABLE notifications (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id        bigint      NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    receiver        text COLLATE "C" NOT NULL,
    event           text        NOT NULL CHECK (event IN ('trigger', 'acknowledge', 'resolve')),
    state           text        NOT NULL CHECK (state IN ('pending', 'sent', 'dead', 'skipped')),
    attempts        integer     NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL,
    event_at        timestamptz NOT NULL,
    next_attempt_at timestamptz NOT NULL,
    claimed_until   timestamptz,
    sent_at         timestamptz,
    last_error      text        NOT NULL DEFAULT '',
    last_status     integer     NOT NULL DEFAULT 0
);

CREATE INDEX notifications_due ON notifications (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX notifications_alert ON notifications (alert_id, receiver, id);
CREATE INDEX notifications_receiver ON notifications (receiver, state, id);

-- Silences mute alerts whose labels match every matcher (a JSON array of
-- {name, op, value}) from starts_at until ends_at, or until expired_at.
CREATE TABLE silences (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    matchers   json        NOT NULL,
    comment    text        NOT NULL,
    created_by text        NOT NULL,
    created_at timestamptz NOT NULL,
    starts_at  timestamptz NOT NULL,
    ends_at    timestamptz NOT NULL,
    expired_at timestamptz,
    expired_by text        NOT NULL DEFAULT ''
);

CREATE INDEX silences_ends ON silences (ends_at) WHERE expired_at IS NULL;
