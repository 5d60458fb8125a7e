-- Hosts per policy and status, kept exact by row triggers on
-- results_current, so that compliance counts read a few hundred rows
-- instead of grouping every current result. SQLite has one writer at a
-- time, so updating the shared counter rows in place costs no waiting.
CREATE TABLE result_counts (
    policy_id TEXT    NOT NULL,
    status    TEXT    NOT NULL,
    n         INTEGER NOT NULL,
    PRIMARY KEY (policy_id, status)
) STRICT, WITHOUT ROWID;

CREATE TRIGGER result_counts_inserted AFTER INSERT ON results_current
BEGIN
    INSERT INTO result_counts (policy_id, status, n) VALUES (NEW.policy_id, NEW.status, 1)
    ON CONFLICT (policy_id, status) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER result_counts_deleted AFTER DELETE ON results_current
BEGIN
    UPDATE result_counts SET n = n - 1 WHERE policy_id = OLD.policy_id AND status = OLD.status;
END;

CREATE TRIGGER result_counts_updated AFTER UPDATE OF policy_id, status ON results_current
WHEN OLD.policy_id IS NOT NEW.policy_id OR OLD.status IS NOT NEW.status
BEGIN
    UPDATE result_counts SET n = n - 1 WHERE policy_id = OLD.policy_id AND status = OLD.status;
    INSERT INTO result_counts (policy_id, status, n) VALUES (NEW.policy_id, NEW.status, 1)
    ON CONFLICT (policy_id, status) DO UPDATE SET n = n + 1;
END;

INSERT INTO result_counts (policy_id, status, n)
SELECT policy_id, status, count(*) FROM results_current GROUP BY 1, 2;
