-- Hosts per policy and status, kept by triggers on results_current, so
-- that compliance counts read a few hundred rows instead of grouping every
-- current result (two million at 20,000 hosts and 100 policies).
--
-- Writers never update a shared counter row: each statement that changes
-- results_current appends its net change per (policy, status) to
-- result_count_deltas, so concurrent ingest transactions do not wait on
-- each other. Readers add the deltas to result_counts; FoldResultCounts
-- moves the deltas into result_counts, in one statement, every fleet
-- metrics cycle.
CREATE TABLE result_counts (
    policy_id text COLLATE "C" NOT NULL,
    status    text   NOT NULL,
    n         bigint NOT NULL,
    PRIMARY KEY (policy_id, status)
);

CREATE TABLE result_count_deltas (
    policy_id text COLLATE "C" NOT NULL,
    status    text   NOT NULL,
    d         bigint NOT NULL
);

CREATE FUNCTION result_counts_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO result_count_deltas (policy_id, status, d)
    SELECT policy_id, status, count(*) FROM inserted_rows GROUP BY 1, 2;
    RETURN NULL;
END $$;

CREATE FUNCTION result_counts_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO result_count_deltas (policy_id, status, d)
    SELECT policy_id, status, -count(*) FROM deleted_rows GROUP BY 1, 2;
    RETURN NULL;
END $$;

-- An update that keeps the status (a re-check) nets to nothing and adds
-- no row.
CREATE FUNCTION result_counts_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO result_count_deltas (policy_id, status, d)
    SELECT policy_id, status, sum(d) FROM (
        SELECT policy_id, status, -1 AS d FROM old_rows
        UNION ALL
        SELECT policy_id, status, 1 FROM new_rows
    ) c GROUP BY 1, 2 HAVING sum(d) <> 0;
    RETURN NULL;
END $$;

CREATE TRIGGER result_counts_inserted AFTER INSERT ON results_current
    REFERENCING NEW TABLE AS inserted_rows
    FOR EACH STATEMENT EXECUTE FUNCTION result_counts_inserted();
CREATE TRIGGER result_counts_deleted AFTER DELETE ON results_current
    REFERENCING OLD TABLE AS deleted_rows
    FOR EACH STATEMENT EXECUTE FUNCTION result_counts_deleted();
CREATE TRIGGER result_counts_updated AFTER UPDATE ON results_current
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION result_counts_updated();

INSERT INTO result_counts (policy_id, status, n)
SELECT policy_id, status, count(*) FROM results_current GROUP BY 1, 2;
