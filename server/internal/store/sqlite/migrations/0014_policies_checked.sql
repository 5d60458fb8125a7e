-- When the host's agent last finished evaluating its policy set, whether
-- or not any result changed (agents send only changed results, so a
-- result's own checked_at is when it last changed). Results read it as
-- their "last checked" time; NULL until an agent reports one.
ALTER TABLE hosts ADD COLUMN policies_checked_at INTEGER;
