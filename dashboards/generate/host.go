package generate

import (
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// hostID is the host the host dashboard shows: the id in $host, or NULL,
// matching nothing, when $host is empty or not an id.
const hostID = `(CASE WHEN ${host:sqlstring} ~ '^[0-9]{1,18}$' THEN ${host:sqlstring} END)::bigint`

// Host is one host in detail: who it is, whether it is connected, every
// policy result with its evidence, its open alerts, its history of
// results and changes, its software and its exemptions. Every host table
// on the other dashboards links here. PostgreSQL only.
func Host() (dashboard.Dashboard, []string, error) {
	d := newBoard(UIDHost, "Steward / Host",
		"One host in detail: identity, connection, policy results with evidence, open alerts, result and inventory history, software, collection errors and exemptions. Every host table on the other Steward dashboards links here. Reads PostgreSQL.",
		"now-7d", "1m")
	d.links(fullNav)
	hosts := `SELECT hostname || ' (#' || id || ')' AS __text, id AS __value FROM hosts ORDER BY hostname, id`
	d.variable(dashboard.NewQueryVariableBuilder("host").
		Label("Host").
		Description("The host to show: name and id (the id the API and stewardctl use).").
		Datasource(dsRef(PostgresUID)).
		Query(dashboard.StringOrMap{String: &hosts}).
		Definition(hosts).
		Refresh(dashboard.VariableRefreshOnDashboardLoad).
		Sort(dashboard.VariableSortDisabled))
	d.variable(textVar("search", "Package name contains", "Show only this host's packages whose name contains this text (case-insensitive).", ""))
	d.variable(onlineWindowVar())

	d.addCore(statPanel("Connection",
		"Online when the host's latest connection is open and it spoke within the online window (the API's rule), else offline.",
		"none", 4, 4,
		sqlTable(`SELECT CASE WHEN `+isOnline+` THEN 1 ELSE 0 END AS online
FROM hosts h
WHERE h.id = `+hostID)).
		GraphMode(common.BigValueGraphModeNone).
		Mappings(mappings(valueText{"1", "online", green}, valueText{"0", "offline", red})))
	d.add(statPanel("Failing policies",
		"Policies this host fails now, exempt ones excluded.",
		"short", 4, 4,
		sqlTable(`SELECT count(*) AS failing
FROM results_current r
WHERE r.host_id = `+hostID+`
  AND r.status = 'fail'
  AND `+notExempt)).
		GraphMode(common.BigValueGraphModeNone).
		Thresholds(steps(green, step{1, red})))
	d.add(statPanel("Checks in error",
		"Policies whose check could not run on this host, exempt ones excluded.",
		"short", 4, 4,
		sqlTable(`SELECT count(*) AS errors
FROM results_current r
WHERE r.host_id = `+hostID+`
  AND r.status = 'error'
  AND `+notExempt)).
		GraphMode(common.BigValueGraphModeNone).
		Thresholds(steps(green, step{1, orange})))
	d.add(statPanel("Open alerts",
		"Alerts of this host that are not resolved: firing, acknowledged or muted.",
		"short", 4, 4,
		sqlTable(`SELECT count(*) AS alerts FROM alerts a WHERE a.host_id = `+hostID+` AND a.state <> 'resolved'`)).
		GraphMode(common.BigValueGraphModeNone).
		Thresholds(steps(green, step{1, red})))
	d.add(statPanel("Changes in range",
		"Inventory changes recorded for this host within the time range.",
		"short", 4, 4,
		sqlTable(`SELECT count(*) AS changes
FROM host_changes c
WHERE c.host_id = `+hostID+`
  AND $__timeFilter(c.first_seen)`)).
		GraphMode(common.BigValueGraphModeNone).
		Thresholds(steps(blue)))
	d.add(statPanel("Packages",
		"Packages installed on this host, as its last software inventory listed them.",
		"short", 4, 4,
		sqlTable(`SELECT count(*) AS packages FROM host_software hs WHERE hs.host_id = `+hostID)).
		GraphMode(common.BigValueGraphModeNone).
		Thresholds(steps(blue)))

	d.addCore(tablePanel("Identity",
		"What the host reported about itself and what the server knows: OS, agent, enrollment, connection, hardware identity (possible duplicates share a hardware UUID or machine id), labels. Times in UTC.",
		8, 13,
		sqlTable(`SELECT f.field, f.value
FROM hosts h
CROSS JOIN LATERAL (VALUES
  (1, 'Host id', h.id::text),
  (2, 'Host name', h.hostname),
  (3, 'Status', CASE WHEN `+isOnline+` THEN 'online' ELSE 'offline' END),
  (4, 'OS', `+hostOS+`),
  (5, 'Platform', NULLIF(trim(h.platform || ' ' || h.os_version), '')),
  (6, 'Arch', NULLIF(h.arch, '')),
  (7, 'Agent version', NULLIF(h.agent_version, '')),
  (8, 'Enrolled', `+utc("h.enrolled_at")+`),
  (9, 'Last seen', COALESCE(`+utc("h.last_seen")+`, 'never')),
  (10, 'Connection', COALESCE(CASE WHEN h.disconnected_at IS NULL OR h.connected_at > h.disconnected_at
                              THEN 'open since ' || `+utc("h.connected_at")+`
                              ELSE 'closed at ' || `+utc("h.disconnected_at")+` END, 'never connected')),
  (11, 'Inventory collected', COALESCE(`+utc("h.collected_at")+`, 'never')),
  (12, 'Hardware UUID', NULLIF(h.hardware_uuid, '')),
  (13, 'Machine id', NULLIF(h.machine_id, '')),
  (14, 'Serial', NULLIF(h.serial, '')),
  (15, 'Labels', (SELECT string_agg(l.key || '=' || l.value, ', ' ORDER BY l.key) FROM host_labels l WHERE l.host_id = h.id)),
  (16, 'Possible duplicates', (SELECT string_agg(x.hostname || ' (#' || x.id || ')', ', ' ORDER BY x.id) FROM (
      SELECT o.id, o.hostname FROM hosts o
      WHERE o.id <> h.id
        AND ((h.hardware_uuid <> '' AND o.hardware_uuid = h.hardware_uuid)
             OR (h.machine_id <> '' AND o.machine_id = h.machine_id))
      ORDER BY o.id
      LIMIT 20) x))
) AS f(n, field, value)
WHERE h.id = `+hostID+`
ORDER BY f.n`)).
		ShowHeader(false))
	d.addCore(cellColors(cellColors(tablePanel("Policy results",
		"Every policy result of this host: failures and errors first, most severe first. evidence is the detail of the failed checks (or the error); an exempt result names its exemption and what the check found beneath it. since is when the host entered this status.",
		16, 13,
		sqlTable(`SELECT r.policy_id AS policy, p.title, p.severity,
  CASE WHEN x.id IS NULL THEN r.status ELSE 'exempt' END AS status,
  r.since, r.checked_at,
  CASE WHEN r.status = 'error' THEN r.error ELSE `+failedChecks("r.evidence")+` END AS evidence,
  CASE WHEN x.id IS NULL THEN ''
       ELSE '#' || x.id || ' (' || r.status || ') ' || x.owner || ' until ' || `+utc("x.expires_at")+` || ': ' || x.reason END AS exemption
FROM results_current r
JOIN policies p ON p.id = r.policy_id
LEFT JOIN LATERAL (
  SELECT e.id, e.owner, e.reason, e.expires_at FROM exemptions e
  WHERE `+exemptionCovers+`
  ORDER BY e.id
  LIMIT 1) x ON true
WHERE r.host_id = `+hostID+`
ORDER BY CASE WHEN x.id IS NOT NULL THEN 3 WHEN r.status = 'fail' THEN 0 WHEN r.status = 'error' THEN 1 WHEN r.status = 'pass' THEN 4 ELSE 5 END,
  `+severityRank("p.severity")+`, r.policy_id`)),
		"status", statusColors...), "severity", severityColors...))

	d.row("History")
	d.add(cellColors(tablePanel("Open alerts of the host",
		"This host's alerts that are not resolved, most severe first. Acknowledge or silence them with stewardctl alerts or the API.",
		12, 8,
		sqlTable(`SELECT a.id, a.rule, a.severity, CASE WHEN a.muted THEN 'muted' ELSE a.state END AS state, a.subject,
  a.started_at, a.acked_by, a.annotations->>'summary' AS summary
FROM alerts a
WHERE a.host_id = `+hostID+`
  AND a.state <> 'resolved'
ORDER BY `+severityRank("a.severity")+`, a.started_at DESC
LIMIT 200`)), "severity", severityColors...))
	d.add(cellColors(tablePanel("Result history",
		"Status changes of this host's policy results within the time range, newest first, with the failed checks of the result that changed it. A host's first result for a policy has from_status first result.",
		12, 8,
		sqlTable(`SELECT t.at, t.policy_id AS policy, COALESCE(t.from_status, 'first result') AS from_status, t.to_status,
  `+failedChecks("t.evidence")+` AS evidence
FROM result_transitions t
WHERE t.host_id = `+hostID+`
  AND $__timeFilter(t.at)
ORDER BY t.at DESC, t.id DESC
LIMIT 500`)), "to_status", statusColors...))
	d.add(tablePanel("Inventory changes",
		"Changes recorded for this host within the time range, newest first, dated when the agent collected the inventory that showed them.",
		12, 10,
		sqlTable(`SELECT c.first_seen, c.kind, c.subject, c.old_value, c.new_value
FROM host_changes c
WHERE c.host_id = `+hostID+`
  AND $__timeFilter(c.first_seen)
ORDER BY c.first_seen DESC, c.id DESC
LIMIT 500`)))
	d.add(linkOverrides(tablePanel("Software",
		"Packages on this host whose name contains the search text, by name. Click a name for every host with that package and version.",
		12, 10,
		sqlTable(`SELECT s.name, s.version, s.arch, s.source, s.publisher
FROM host_software hs
JOIN software s ON s.id = hs.software_id
WHERE hs.host_id = `+hostID+`
  AND s.name ILIKE '%' || ${search:sqlstring} || '%'
ORDER BY s.name, s.version, s.arch
LIMIT 5000`)), fieldLink{
		field: "name",
		title: "Every host with this package and version",
		url:   "/d/" + UIDInventory + "?var-package=${__data.fields.name:percentencode}&var-version=${__data.fields.version:percentencode}&${__url_time_range}",
	}))
	d.add(tablePanel("Collection errors",
		"Inventory sections the agent could not collect at its last inventory, with its reason.",
		12, 6,
		sqlTable(`SELECT e.key AS section, e.value AS reason, h.collected_at
FROM hosts h
CROSS JOIN LATERAL json_each_text(CASE WHEN json_typeof(h.collect_errors) = 'object' THEN h.collect_errors ELSE '{}'::json END) AS e
WHERE h.id = `+hostID+`
ORDER BY e.key`)))
	d.add(tablePanel("Exemptions of the host",
		"Active exemptions that apply to this host, by its id or by labels it carries, soonest expiry first.",
		12, 6,
		sqlTable(`SELECT e.id, e.policy_id AS policy,
  CASE WHEN e.host_id IS NULL THEN 'labels ' || e.labels::text ELSE 'this host' END AS scope,
  e.owner, e.reason, e.expires_at
FROM exemptions e
WHERE e.revoked_at IS NULL
  AND e.expires_at > now()
  AND (e.host_id = `+hostID+`
       OR (e.host_id IS NULL AND e.label_count = (
             SELECT count(*) FROM exemption_labels el
             JOIN host_labels hl ON hl.key = el.key AND hl.value = el.value
             WHERE el.exemption_id = e.id AND hl.host_id = `+hostID+`)))
ORDER BY e.expires_at, e.id`)))

	dash, err := d.build()
	return dash, d.core, err
}
