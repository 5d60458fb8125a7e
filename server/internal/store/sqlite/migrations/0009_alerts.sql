-- One row per alert episode of (rule, host_id, subject). At most one
-- episode of a triple is open (not resolved) at a time: the partial unique
-- index makes a second open a no-op, whoever races to write it.
CREATE TABLE alerts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    rule        TEXT    NOT NULL,
    host_id     INTEGER NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    subject     TEXT    NOT NULL DEFAULT '',
    severity    TEXT    NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('firing', 'acknowledged', 'resolved')),
    labels      TEXT    NOT NULL DEFAULT '{}',
    annotations TEXT    NOT NULL DEFAULT '{}',
    started_at  INTEGER NOT NULL,
    acked_at    INTEGER,
    acked_by    TEXT    NOT NULL DEFAULT '',
    ack_comment TEXT    NOT NULL DEFAULT '',
    resolved_at INTEGER,
    muted       INTEGER NOT NULL DEFAULT 0,
    notified    INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE UNIQUE INDEX alerts_open_episode ON alerts (rule, host_id, subject) WHERE state <> 'resolved';
CREATE INDEX alerts_open ON alerts (id) WHERE state <> 'resolved';
CREATE INDEX alerts_host ON alerts (host_id, id);
CREATE INDEX alerts_rule ON alerts (rule, id);

-- The outbox: one row per event of one alert for one receiver, written in
-- the transaction that changed the alert. attempts is bumped by each
-- claim and doubles as the claim's token.
CREATE TABLE notifications (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id        INTEGER NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    receiver        TEXT    NOT NULL,
    event           TEXT    NOT NULL CHECK (event IN ('trigger', 'acknowledge', 'resolve')),
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'sent', 'dead', 'skipped')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    event_at        INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    claimed_until   INTEGER,
    sent_at         INTEGER,
    last_error      TEXT    NOT NULL DEFAULT '',
    last_status     INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX notifications_due ON notifications (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX notifications_alert ON notifications (alert_id, receiver, id);
CREATE INDEX notifications_receiver ON notifications (receiver, state, id);

-- Silences mute alerts whose labels match every matcher (a JSON array of
-- {name, op, value}) from starts_at until ends_at, or until expired_at.
CREATE TABLE silences (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    matchers   TEXT    NOT NULL,
    comment    TEXT    NOT NULL,
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    starts_at  INTEGER NOT NULL,
    ends_at    INTEGER NOT NULL,
    expired_at INTEGER,
    expired_by TEXT    NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX silences_ends ON silences (ends_at) WHERE expired_at IS NULL;
