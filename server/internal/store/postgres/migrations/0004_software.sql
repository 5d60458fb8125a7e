-- The normalized software catalog: one row per (name, version, arch,
-- source) however many hosts have it. host_count is kept up to date by
-- ingest as links come and go, so fleet-wide counts never read
-- host_software. The UNIQUE index leads with (name, version) and is the
-- one software searches use; a separate (name, version) index would only
-- cost writes. "C" collation: only equality is asked, and memcmp is the
-- cheapest way to answer it.
CREATE TABLE software (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text COLLATE "C" NOT NULL,
    version    text COLLATE "C" NOT NULL,
    arch       text COLLATE "C" NOT NULL DEFAULT '',
    source     text COLLATE "C" NOT NULL,
    publisher  text NOT NULL DEFAULT '',
    host_count bigint NOT NULL DEFAULT 0,
    UNIQUE (name, version, arch, source)
) WITH (fillfactor = 80);

CREATE TABLE host_software (
    host_id     bigint NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    software_id bigint NOT NULL REFERENCES software (id),
    PRIMARY KEY (host_id, software_id)
);

-- "Which hosts have catalog entry X", in (software_id, host_id) order.
CREATE INDEX host_software_software_host ON host_software (software_id, host_id);
