package generate

// SQL fragments shared by the panels that read PostgreSQL. In every query
// a host row is h, a current result r, a policy p and an exemption e.
//
// Template variables reach SQL only as ${name:sqlstring}: Grafana quotes
// each value and doubles its quotes, so neither a text box nor a crafted
// URL can change a statement (the reporting role is read-only besides).
// Multi-value variables go through = ANY(ARRAY[...]::text[]), which
// stays valid SQL when a variable has no value at all.

// hostOS is a host's OS as the steward_hosts series name it: "unknown"
// until the host has said.
const hostOS = `COALESCE(NULLIF(h.os, ''), 'unknown')`

// osFilter keeps hosts whose OS is one of $os.
const osFilter = hostOS + ` = ANY(ARRAY[${os:sqlstring}]::text[])`

// labelFilter keeps hosts carrying one of the labels of $label, or every
// host when it holds "(any)".
const labelFilter = `('(any)' = ANY(ARRAY[${label:sqlstring}]::text[])
    OR EXISTS (SELECT 1 FROM host_labels l WHERE l.host_id = h.id
               AND l.key || '=' || l.value = ANY(ARRAY[${label:sqlstring}]::text[])))`

// hostFilters is both.
const hostFilters = osFilter + `
  AND ` + labelFilter

// isOnline is the API's definition of an online host: its latest
// connection is open (it connected after it last disconnected) and it
// spoke within $online_window. Never NULL: a host that never connected
// is offline.
const isOnline = `(h.last_seen IS NOT NULL
    AND h.last_seen >= now() - ${online_window:sqlstring}::interval
    AND (h.disconnected_at IS NULL OR COALESCE(h.connected_at > h.disconnected_at, false)))`

// exemptionCovers holds when exemption e, active now, excuses result r:
// it names r's host, or r's host carries every one of its labels. This
// is the store's rule (the lowest id wins where several match).
const exemptionCovers = `e.policy_id = r.policy_id AND e.revoked_at IS NULL AND e.expires_at > now()
      AND (e.host_id = r.host_id
           OR (e.host_id IS NULL AND e.label_count = (
                 SELECT count(*) FROM exemption_labels el
                 JOIN host_labels hl ON hl.key = el.key AND hl.value = el.value
                 WHERE el.exemption_id = e.id AND hl.host_id = r.host_id)))`

// notExempt keeps results no active exemption excuses, as the API's
// status=fail does.
const notExempt = `NOT EXISTS (SELECT 1 FROM exemptions e WHERE ` + exemptionCovers + `)`

// failedChecks joins the details of the failed checks in the evidence
// column col (a JSON array of {check, passed, detail}): what an admin
// reads to fix the host.
func failedChecks(col string) string {
	return `(SELECT string_agg(ev->>'detail', '; ')
    FROM json_array_elements(CASE WHEN json_typeof(` + col + `) = 'array' THEN ` + col + ` ELSE '[]'::json END) AS ev
    WHERE ev->>'passed' = 'false')`
}

// utc writes the time in column col as text, for tables of text.
func utc(col string) string {
	return `to_char(` + col + ` AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"')`
}

// severityRank orders by the severity in column col, critical first.
func severityRank(col string) string {
	return `array_position(ARRAY['critical', 'high', 'medium', 'low', 'info']::text[], ` + col + `)`
}
