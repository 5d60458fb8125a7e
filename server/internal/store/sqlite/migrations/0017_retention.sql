-- Retention deletes old history in batches, oldest first, by each table's
-- time column; these indexes let a batch find its rows without reading
-- the table. host_changes and result_transitions have theirs already.
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX alerts_resolved ON alerts (resolved_at) WHERE state = 'resolved';
CREATE INDEX notifications_done ON notifications (created_at) WHERE state <> 'pending';
