-- What the host section says identifies the machine, normalized by
-- package identity (lower case; '' for none or a firmware placeholder).
-- The partial indexes answer "which other hosts report this UUID / machine
-- id" for duplicate flagging without holding the many empty values; each
-- entry also carries the rowid, so matches come out in id order.
ALTER TABLE hosts ADD COLUMN hardware_uuid TEXT NOT NULL DEFAULT '';
ALTER TABLE hosts ADD COLUMN machine_id    TEXT NOT NULL DEFAULT '';
ALTER TABLE hosts ADD COLUMN serial        TEXT NOT NULL DEFAULT '';

CREATE INDEX hosts_hardware_uuid ON hosts (hardware_uuid) WHERE hardware_uuid <> '';
CREATE INDEX hosts_machine_id    ON hosts (machine_id)    WHERE machine_id <> '';
CREATE INDEX hosts_serial        ON hosts (serial)        WHERE serial <> '';

-- Hosts that reported before these columns existed fill them at their next
-- inventory: a stored host section hash that matches nothing makes the
-- digest disagree, the server asks for a resync, and the agent resends the
-- host section in full.
UPDATE inventory_sections SET hash = '' WHERE name = 'host';
