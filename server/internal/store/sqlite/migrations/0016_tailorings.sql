-- Server-side tailorings (docs/policies.md, "Tailoring on the server"):
-- parameter values for the hosts whose labels include selector. They are
-- part of the policy set, so every change also moves policy_set.revision.
-- selector and values are JSON objects as the server encodes them, with
-- sorted keys, so an unchanged put is told by comparing text.
CREATE TABLE tailorings (
    name             TEXT    PRIMARY KEY,
    selector         TEXT    NOT NULL,
    values_json      TEXT    NOT NULL,
    updated_at       INTEGER NOT NULL,
    updated_by       TEXT    NOT NULL,
    updated_revision INTEGER NOT NULL
) STRICT;
