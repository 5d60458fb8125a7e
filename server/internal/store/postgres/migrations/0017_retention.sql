-- Retention. host_changes and result_transitions, the histories that grow
-- with the fleet, become partitioned by month of their time column, so
-- that dropping a month past the retention period is dropping a table
-- instead of deleting millions of rows; only the month that straddles the
-- cutoff is deleted from row by row. The retention job creates the coming
-- months' partitions ahead of time.
--
-- A partitioned table's primary key must include the partition key, so
-- the key becomes (id, time); ids still come from one sequence per table
-- and stay unique. PostgreSQL 15 has no identity columns on partitioned
-- tables, so the sequence is a plain one owned by the column.

-- history_extend creates parent's monthly partitions, named
-- parent_pYYYYMM, up to the UTC month of upto. The partitions of a
-- history cover all time without a gap: parent_old from the beginning to
-- the first month, the months, and parent_future from the end of the last
-- month on. There is no default partition: with one, PostgreSQL cannot
-- read the partitions in order and sorts instead. To make room for a new
-- month, parent_future is detached, the month's rows (from agents with
-- clocks ahead) move out of it, and it is attached again past the month;
-- it is normally empty, so the parent is locked for an instant.
CREATE FUNCTION history_extend(parent text, col text, upto timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    stop   timestamp := date_trunc('month', upto AT TIME ZONE 'UTC');
    future text := parent || '_future';
    last   text;
    m      timestamp;
    part   text;
BEGIN
    SELECT max(c.relname) INTO last FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = parent::regclass AND c.relname ~ ('^' || parent || '_p[0-9]{6}$');
    IF last IS NULL THEN
        RAISE EXCEPTION 'history_extend: % has no monthly partition', parent;
    END IF;
    m := to_date(right(last, 6), 'YYYYMM')::timestamp + interval '1 month';
    IF m > stop THEN
        RETURN;
    END IF;
    EXECUTE format('ALTER TABLE %I DETACH PARTITION %I', parent, future);
    WHILE m <= stop LOOP
        part := parent || '_p' || to_char(m, 'YYYYMM');
        EXECUTE format('CREATE TABLE %I (LIKE %I)', part, parent);
        EXECUTE format('WITH moved AS (DELETE FROM %I WHERE %I < %L RETURNING *) INSERT INTO %I SELECT * FROM moved',
            future, col, (m + interval '1 month') AT TIME ZONE 'UTC', part);
        EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
            parent, part, m AT TIME ZONE 'UTC', (m + interval '1 month') AT TIME ZONE 'UTC');
        m := m + interval '1 month';
    END LOOP;
    EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (MAXVALUE)',
        parent, future, m AT TIME ZONE 'UTC');
END $$;

-- history_init creates the partitions of a new partitioned history: months
-- from the month of oldest (at most two years back; older rows go to
-- parent_old) to two months past now.
CREATE FUNCTION history_init(parent text, col text, oldest timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    first timestamp := date_trunc('month', greatest(coalesce(oldest, now()), now() - interval '2 years') AT TIME ZONE 'UTC');
BEGIN
    EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (MINVALUE) TO (%L)',
        parent || '_old', parent, first AT TIME ZONE 'UTC');
    EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
        parent || '_p' || to_char(first, 'YYYYMM'), parent, first AT TIME ZONE 'UTC', (first + interval '1 month') AT TIME ZONE 'UTC');
    EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (MAXVALUE)',
        parent || '_future', parent, (first + interval '1 month') AT TIME ZONE 'UTC');
    PERFORM history_extend(parent, col, now() + interval '2 months');
END $$;

-- host_changes: the old table keeps its rows until they are copied; its
-- key and indexes go first so that their names are free.
ALTER TABLE host_changes RENAME TO host_changes_unpartitioned;
ALTER TABLE host_changes_unpartitioned DROP CONSTRAINT host_changes_pkey;
DROP INDEX host_changes_host_time, host_changes_kind_time, host_changes_time;

CREATE TABLE host_changes (
    id         bigint NOT NULL,
    host_id    bigint NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    kind       text COLLATE "C" NOT NULL,
    subject    text COLLATE "C" NOT NULL DEFAULT '',
    old_value  text NOT NULL DEFAULT '',
    new_value  text NOT NULL DEFAULT '',
    details    json,
    first_seen timestamptz NOT NULL,
    seq        bigint NOT NULL,
    PRIMARY KEY (id, first_seen)
) PARTITION BY RANGE (first_seen);
SELECT history_init('host_changes', 'first_seen', (SELECT min(first_seen) FROM host_changes_unpartitioned));

INSERT INTO host_changes (id, host_id, kind, subject, old_value, new_value, details, first_seen, seq)
    SELECT id, host_id, kind, subject, old_value, new_value, details, first_seen, seq FROM host_changes_unpartitioned;
DROP TABLE host_changes_unpartitioned;

CREATE SEQUENCE host_changes_id_seq OWNED BY host_changes.id;
SELECT setval('host_changes_id_seq', coalesce(max(id), 0) + 1, false) FROM host_changes;
ALTER TABLE host_changes ALTER COLUMN id SET DEFAULT nextval('host_changes_id_seq');

CREATE INDEX host_changes_host_time ON host_changes (host_id, first_seen, id);
CREATE INDEX host_changes_kind_time ON host_changes (kind, first_seen, id);
CREATE INDEX host_changes_time      ON host_changes (first_seen, id);

-- result_transitions, the same way.
ALTER TABLE result_transitions RENAME TO result_transitions_unpartitioned;
ALTER TABLE result_transitions_unpartitioned DROP CONSTRAINT result_transitions_pkey;
DROP INDEX result_transitions_policy_time, result_transitions_host_time, result_transitions_time;

CREATE TABLE result_transitions (
    id          bigint NOT NULL,
    host_id     bigint      NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    policy_id   text COLLATE "C" NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
    from_status text,
    to_status   text        NOT NULL,
    at          timestamptz NOT NULL,
    evidence    json        NOT NULL DEFAULT '[]',
    parameters  json,
    PRIMARY KEY (id, at)
) PARTITION BY RANGE (at);
SELECT history_init('result_transitions', 'at', (SELECT min(at) FROM result_transitions_unpartitioned));

INSERT INTO result_transitions (id, host_id, policy_id, from_status, to_status, at, evidence, parameters)
    SELECT id, host_id, policy_id, from_status, to_status, at, evidence, parameters FROM result_transitions_unpartitioned;
DROP TABLE result_transitions_unpartitioned;

CREATE SEQUENCE result_transitions_id_seq OWNED BY result_transitions.id;
SELECT setval('result_transitions_id_seq', coalesce(max(id), 0) + 1, false) FROM result_transitions;
ALTER TABLE result_transitions ALTER COLUMN id SET DEFAULT nextval('result_transitions_id_seq');

CREATE INDEX result_transitions_policy_time ON result_transitions (policy_id, at, id);
CREATE INDEX result_transitions_host_time   ON result_transitions (host_id, policy_id, at, id);
CREATE INDEX result_transitions_time        ON result_transitions (at, id);

-- The other histories are deleted from in batches, oldest first; these
-- indexes let a batch find its rows without reading the table.
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX alerts_resolved ON alerts (resolved_at) WHERE state = 'resolved';
CREATE INDEX notifications_done ON notifications (created_at) WHERE state <> 'pending';
