-- Server-side tailorings (docs/policies.md, "Tailoring on the server"):
-- parameter values for the hosts whose labels include selector. They are
-- part of the policy set, so every change also moves policy_set.revision.
-- selector and values are JSON objects as the server encodes them, with
-- sorted keys, so an unchanged put is told by comparing text.
CREATE TABLE tailorings (
    name             text        PRIMARY KEY,
    selector         text        NOT NULL,
    values_json      text        NOT NULL,
    updated_at       timestamptz NOT NULL,
    updated_by       text        NOT NULL,
    updated_revision bigint      NOT NULL
);
