-- The parameter values a result was evaluated with (policy.Result
-- Parameters): a JSON object of names to values, cut to 64 entries and
-- 4 KiB by the server (store.EncodeParameters), NULL when the policy
-- declares none. Transitions keep them beside their evidence.
ALTER TABLE results_current ADD COLUMN parameters TEXT;
ALTER TABLE result_transitions ADD COLUMN parameters TEXT;
