-- Labels people put on hosts; exemptions can match them.
CREATE TABLE host_labels (
    host_id bigint NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    key     text COLLATE "C" NOT NULL,
    value   text COLLATE "C" NOT NULL,
    PRIMARY KEY (host_id, key)
);

CREATE INDEX host_labels_key_value ON host_labels (key, value, host_id);

-- An exemption excuses one host (host_id) or every host carrying all of
-- its labels (label_count rows in exemption_labels; labels keeps them as
-- given) from one policy until expires_at. Whether it is active is
-- decided when read, so expiry needs no job. policy_id has no foreign
-- key: an exemption outlives its policy being deleted and applied again.
CREATE TABLE exemptions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    policy_id   text COLLATE "C" NOT NULL,
    host_id     bigint REFERENCES hosts (id) ON DELETE CASCADE,
    labels      json        NOT NULL DEFAULT '{}',
    label_count integer     NOT NULL DEFAULT 0,
    reason      text        NOT NULL,
    owner       text        NOT NULL,
    expires_at  timestamptz NOT NULL,
    created_at  timestamptz NOT NULL,
    created_by  text        NOT NULL,
    revoked_at  timestamptz,
    revoked_by  text        NOT NULL DEFAULT '',
    CHECK ((host_id IS NULL) <> (label_count = 0))
);

CREATE INDEX exemptions_policy ON exemptions (policy_id, expires_at) WHERE revoked_at IS NULL;

CREATE TABLE exemption_labels (
    exemption_id bigint NOT NULL REFERENCES exemptions (id) ON DELETE CASCADE,
    key          text COLLATE "C" NOT NULL,
    value        text COLLATE "C" NOT NULL,
    PRIMARY KEY (exemption_id, key)
);

-- Who changed policies, exemptions and labels, when, and what.
CREATE TABLE audit_log (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      timestamptz NOT NULL,
    actor   text        NOT NULL,
    action  text        NOT NULL,
    subject text        NOT NULL DEFAULT '',
    detail  json        NOT NULL DEFAULT '{}'
);

CREATE INDEX audit_log_action ON audit_log (action, id);
