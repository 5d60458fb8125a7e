-- Credential lifecycle: API tokens get a role, an optional expiry and a
-- last-used time; enroll secrets an optional expiry and use limit (its
-- uses are the hosts enrolled with it, counted on the hosts index below);
-- hosts can be retired. A name names at most one live credential of its kind,
-- so that people can revoke by name; revoked rows keep their name for the
-- audit trail.
ALTER TABLE api_tokens ADD COLUMN role TEXT NOT NULL DEFAULT 'admin' CHECK (role IN ('admin', 'viewer'));
ALTER TABLE api_tokens ADD COLUMN expires_at INTEGER;
ALTER TABLE api_tokens ADD COLUMN last_used_at INTEGER;

ALTER TABLE enroll_secrets ADD COLUMN expires_at INTEGER;
ALTER TABLE enroll_secrets ADD COLUMN max_uses INTEGER CHECK (max_uses > 0); -- NULL: no limit

-- Older databases could hold two live credentials of one name (nothing
-- checked before); the newest keeps it, the others are renamed, not
-- revoked, so no working credential stops working.
UPDATE api_tokens SET name = name || '-' || id
    WHERE revoked_at IS NULL AND EXISTS (SELECT 1 FROM api_tokens o
        WHERE o.name = api_tokens.name AND o.revoked_at IS NULL AND o.id > api_tokens.id);
UPDATE enroll_secrets SET name = name || '-' || id
    WHERE revoked_at IS NULL AND EXISTS (SELECT 1 FROM enroll_secrets o
        WHERE o.name = enroll_secrets.name AND o.revoked_at IS NULL AND o.id > enroll_secrets.id);

CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens (name) WHERE revoked_at IS NULL;
CREATE UNIQUE INDEX enroll_secrets_live_name ON enroll_secrets (name) WHERE revoked_at IS NULL;

-- A retired host keeps its inventory and history but its node key no
-- longer connects, and it leaves host lists, counts and metrics. The
-- partial index answers "hosts retired since" for the servers that must
-- close a retired host's socket.
ALTER TABLE hosts ADD COLUMN retired_at INTEGER;
CREATE INDEX hosts_retired_at ON hosts (retired_at) WHERE retired_at IS NOT NULL;

-- Uses of an enroll secret, and its deletion's ON DELETE SET NULL.
CREATE INDEX hosts_enroll_secret_id ON hosts (enroll_secret_id) WHERE enroll_secret_id IS NOT NULL;
