-- Signed policy sets (docs/policies.md). policy_signature holds the
-- admin's signature with the revision it was recorded for: a later apply
-- or delete moves the revision past it, which leaves the set unsigned
-- without touching this row. statement is the signed JSON exactly as the
-- signer produced it.
CREATE TABLE policy_signature (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    revision  INTEGER NOT NULL,
    statement BLOB    NOT NULL,
    signature BLOB    NOT NULL
) STRICT;

-- Each host's current refusal of a policy set, as its agent last reported
-- it; no row while the agent refuses none.
CREATE TABLE host_policy_refusals (
    host_id  INTEGER PRIMARY KEY REFERENCES hosts (id) ON DELETE CASCADE,
    revision INTEGER NOT NULL,
    code     TEXT    NOT NULL,
    reason   TEXT    NOT NULL,
    at       INTEGER NOT NULL
) STRICT;
