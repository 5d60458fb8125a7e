-- The current inventory, one row per host and section. data is json, not
-- jsonb: json keeps the agent's canonical bytes exactly, so the stored hash
-- stays checkable and the API returns what was hashed; jsonb would reorder
-- keys and reformat numbers. Queries that need jsonb can cast.
CREATE TABLE inventory_sections (
    host_id    bigint NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    name       text   NOT NULL,
    hash       text   NOT NULL,
    data       json   NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (host_id, name)
);
