-- What the host section says identifies the machine, normalized by
-- package identity (lower case; '' for none or a firmware placeholder).
-- The partial indexes answer "which other hosts report this UUID / machine
-- id" for duplicate flagging, in id order, without holding the many empty
-- values. They change only when the host section does, so the per-message
-- updates of last_seq/last_seen stay HOT.
ALTER TABLE hosts
    ADD COLUMN hardware_uuid text COLLATE "C" NOT NULL DEFAULT '',
    ADD COLUMN machine_id    text COLLATE "C" NOT NULL DEFAULT '',
    ADD COLUMN serial        text COLLATE "C" NOT NULL DEFAULT '';

CREATE INDEX hosts_hardware_uuid ON hosts (hardware_uuid, id) WHERE hardware_uuid <> '';
CREATE INDEX hosts_machine_id    ON hosts (machine_id, id)    WHERE machine_id <> '';
CREATE INDEX hosts_serial        ON hosts (serial)            WHERE serial <> '';

-- Hosts that reported before these columns existed fill them at their next
-- inventory: a stored host section hash that matches nothing makes the
-- digest disagree, the server asks for a resync, and the agent resends the
-- host section in full.
UPDATE inventory_sections SET hash = '' WHERE name = 'host';
