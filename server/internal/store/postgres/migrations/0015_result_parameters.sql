-- The parameter values a result was evaluated with (policy.Result
-- Parameters): a JSON object of names to values, cut to 64 entries and
-- 4 KiB by the server (store.EncodeParameters), NULL when the policy
-- declares none. Transitions keep them beside their evidence. Adding a
-- nullable column without a default rewrites neither table.
ALTER TABLE results_current ADD COLUMN parameters json;
ALTER TABLE result_transitions ADD COLUMN parameters json;
