-- Signed policy sets (docs/policies.md). policy_signature holds the
-- admin's signature with the revision it was recorded for: a later apply
-- or delete moves the revision past it, which leaves the set unsigned
-- without touching this row. statement is the signed JSON exactly as the
-- signer produced it.
CREATE TABLE policy_signature (
    id        int    PRIMARY KEY CHECK (id = 1),
    revision  bigint NOT NULL,
    statement bytea  NOT NULL,
    signature bytea  NOT NULL
);

-- Each host's current refusal of a policy set, as its agent last reported
-- it; no row while the agent refuses none.
CREATE TABLE host_policy_refusals (
    host_id  bigint      PRIMARY KEY REFERENCES hosts (id) ON DELETE CASCADE,
    revision bigint      NOT NULL,
    code     text        NOT NULL,
    reason   text        NOT NULL,
    at       timestamptz NOT NULL
);
