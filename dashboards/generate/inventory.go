package generate

import (
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// ChangeKinds are the kinds of inventory changes the server records (see
// docs/api.md, "Change history"); a test keeps the list equal to the
// change detector's.
var ChangeKinds = []string{
	"first_inventory",
	"software_installed", "software_removed", "software_upgraded", "software_downgraded", "software_version_changed",
	"hostname_changed", "hardware_changed", "os_changed", "hotfix_installed", "hotfix_removed",
	"interface_added", "interface_removed", "mac_changed", "address_added", "address_removed",
	"port_opened", "port_closed",
	"user_added", "user_removed", "admin_added", "admin_removed",
	"service_added", "service_removed", "service_start_mode_changed",
}

// Inventory: the hosts, what software they run, what changed, and hosts
// that look like clones of each other. PostgreSQL only: these are
// questions about individual hosts and packages, which metrics never
// label.
func Inventory() (dashboard.Dashboard, []string, error) {
	d := newBoard(UIDInventory, "Steward / Inventory",
		"The hosts, the software they run (search the catalogue, then list the hosts with a package), what changed, possible duplicate hosts and failed inventory collection. Reads PostgreSQL.",
		"now-7d", "5m")
	d.links(fullNav)
	d.variable(osVarSQL())
	d.variable(labelVar())
	d.variable(textVar("name", "Host name contains", "Show only hosts whose name contains this text (case-insensitive; % and _ are wildcards).", ""))
	d.variable(textVar("search", "Package name contains", "Search the software catalogue for package names containing this text (case-insensitive; % and _ are wildcards). Empty lists the most installed packages.", ""))
	d.variable(textVar("package", "Package", "Exact package name for the hosts-with-package table; click a package in the search results to fill it.", "openssl"))
	d.variable(textVar("version", "Version", "Exact version for the hosts-with-package table; empty for any version.", ""))
	kinds := strings.Join(ChangeKinds, ",")
	d.variable(dashboard.NewCustomVariableBuilder("kind").
		Label("Change kind").
		Description("Kinds of inventory changes to list (see the change history in the API documentation).").
		Values(dashboard.StringOrMap{String: &kinds}).
		Multi(true).
		IncludeAll(true).
		Current(allOption()))
	d.variable(onlineWindowVar())

	d.addCore(statPanel("Hosts",
		"Enrolled hosts matching the OS, label and name filters.",
		"short", 6, 4,
		sqlTable(`SELECT count(*) AS hosts
FROM hosts h
WHERE `+hostFilters+`
  AND h.hostname ILIKE '%' || ${name:sqlstring} || '%'`)).
		Thresholds(steps(blue)))
	d.addCore(statPanel("Online",
		"Of those, hosts whose connection is open and that spoke within the online window.",
		"short", 6, 4,
		sqlTable(`SELECT count(*) AS online
FROM hosts h
WHERE `+isOnline+`
  AND `+hostFilters+`
  AND h.hostname ILIKE '%' || ${name:sqlstring} || '%'`)).
		Thresholds(steps(green)))
	d.addCore(statPanel("Packages in the catalogue",
		"Distinct package names installed on at least one host (the software catalogue, every OS).",
		"short", 6, 4,
		sqlTable(`SELECT count(DISTINCT s.name) AS packages FROM software s WHERE s.host_count > 0`)).
		Thresholds(steps(blue)))
	d.addCore(statPanel("Changes in range",
		"Inventory changes recorded within the time range for the selected hosts and change kinds.",
		"short", 6, 4,
		sqlTable(`SELECT count(*) AS changes
FROM host_changes c
JOIN hosts h ON h.id = c.host_id
WHERE $__timeFilter(c.first_seen)
  AND c.kind = ANY(ARRAY[${kind:sqlstring}]::text[])
  AND `+hostFilters)).
		Thresholds(steps(blue)))

	d.row("Hosts")
	d.addCore(cellColors(linkOverrides(tablePanel("Host list",
		"Enrolled hosts matching the filters, by name (at most 2,000: narrow with the filters). status follows the API's online rule; inventory_collected_at is when the agent collected the inventory the server holds. Click a host name for its details.",
		24, 10,
		sqlTable(`SELECT h.id AS host_id, h.hostname, `+hostOS+` AS os, h.platform, h.os_version, h.arch, h.agent_version,
  CASE WHEN `+isOnline+` THEN 'online' ELSE 'offline' END AS status,
  h.last_seen, h.enrolled_at, h.collected_at AS inventory_collected_at,
  (SELECT string_agg(l.key || '=' || l.value, ', ' ORDER BY l.key) FROM host_labels l WHERE l.host_id = h.id) AS labels
FROM hosts h
WHERE `+hostFilters+`
  AND h.hostname ILIKE '%' || ${name:sqlstring} || '%'
ORDER BY h.hostname, h.id
LIMIT 2000`)), hostLink("hostname")), "status",
		valueText{"online", "online", green}, valueText{"offline", "offline", grey}))

	d.row("Software")
	d.addCore(linkOverrides(tablePanel("Software matching the search",
		"Catalogue entries (name, version, arch, source) whose name contains the search text, most installed first; hosts counts hosts of every OS. Click a name to list the hosts with that package and version.",
		12, 10,
		sqlTable(`SELECT s.name, s.version, s.arch, s.source, s.publisher, s.host_count AS hosts
FROM software s
WHERE s.host_count > 0
  AND s.name ILIKE '%' || ${search:sqlstring} || '%'
ORDER BY s.host_count DESC, s.name, s.version
LIMIT 200`)), fieldLink{
		field: "name",
		title: "Hosts with this package and version",
		url:   "/d/" + UIDInventory + "?var-package=${__data.fields.name:percentencode}&var-version=${__data.fields.version:percentencode}&${search:queryparam}&${__url_time_range}",
	}))
	d.add(linkOverrides(tablePanel("Hosts with the package",
		"Hosts that have the package named in Package (exactly), at the version in Version or at any version when it is empty, for the selected OSes and labels. Click a host name for its details.",
		12, 10,
		sqlTable(`SELECT h.id AS host_id, h.hostname, `+hostOS+` AS os, h.os_version, s.name AS package, s.version, s.arch, s.source,
  h.last_seen
FROM software s
JOIN host_software hs ON hs.software_id = s.id
JOIN hosts h ON h.id = hs.host_id
WHERE s.name = ${package:sqlstring}
  AND (${version:sqlstring} = '' OR s.version = ${version:sqlstring})
  AND `+hostFilters+`
ORDER BY h.hostname, h.id, s.version
LIMIT 2000`)), hostLink("hostname")))
	d.add(barsPanel("Versions of the package",
		"How many hosts run each version of the package named in Package, every OS, most first.",
		"short", 24, 6,
		sqlTable(`SELECT s.version || ' ' || s.arch || ' (' || s.source || ')' AS version, sum(s.host_count) AS hosts
FROM software s
WHERE s.name = ${package:sqlstring}
  AND s.host_count > 0
GROUP BY 1
ORDER BY 2 DESC, 1
LIMIT 30`)).
		ReduceOptions(allRows("hosts")))

	d.row("Changes")
	d.addCore(stacked(seriesPanel("Changes by kind",
		"Inventory changes per interval by kind, for the selected hosts and kinds, dated when the agent collected the inventory that showed them.",
		"short", 24, 8,
		sqlSeries(`SELECT $__timeGroupAlias(c.first_seen, $__interval), c.kind AS metric, count(*) AS value
FROM host_changes c
JOIN hosts h ON h.id = c.host_id
WHERE $__timeFilter(c.first_seen)
  AND c.kind = ANY(ARRAY[${kind:sqlstring}]::text[])
  AND `+hostFilters+`
GROUP BY 1, 2
ORDER BY 1`))).DrawStyle(common.GraphDrawStyleBars).FillOpacity(80))
	d.addCore(linkOverrides(tablePanel("Recent changes",
		"The latest 500 changes within the time range for the selected hosts and kinds, newest first: old and new value per change (a version, a port's listener, a user's uid). Click a host name for its details.",
		24, 12,
		sqlTable(`SELECT c.first_seen, h.id AS host_id, h.hostname, c.kind, c.subject, c.old_value, c.new_value
FROM host_changes c
JOIN hosts h ON h.id = c.host_id
WHERE $__timeFilter(c.first_seen)
  AND c.kind = ANY(ARRAY[${kind:sqlstring}]::text[])
  AND `+hostFilters+`
ORDER BY c.first_seen DESC, c.id DESC
LIMIT 500`)), hostLink("hostname")))

	d.row("Hygiene")
	d.add(linkOverrides(tablePanel("Possible duplicate hosts",
		"Hosts sharing a hardware UUID or a machine id with another host: cloned virtual machines or a disk image copied to two machines. They stay separate hosts (nothing is merged); firmware placeholder identifiers never match. Same rule as possible_duplicates in the API, which lists at most 20.",
		12, 8,
		sqlTable(`SELECT h.id AS host_id, h.hostname, h.hardware_uuid, h.machine_id, h.serial, h.last_seen,
  (SELECT string_agg(x.hostname || ' (#' || x.id || ')', ', ' ORDER BY x.id) FROM (
     SELECT d.id, d.hostname FROM hosts d
     WHERE d.id <> h.id
       AND ((h.hardware_uuid <> '' AND d.hardware_uuid = h.hardware_uuid)
            OR (h.machine_id <> '' AND d.machine_id = h.machine_id))
     ORDER BY d.id
     LIMIT 20) x) AS possible_duplicates
FROM hosts h
WHERE (h.hardware_uuid <> '' AND EXISTS (SELECT 1 FROM hosts d WHERE d.hardware_uuid = h.hardware_uuid AND d.id <> h.id))
   OR (h.machine_id <> '' AND EXISTS (SELECT 1 FROM hosts d WHERE d.machine_id = h.machine_id AND d.id <> h.id))
ORDER BY h.hostname, h.id
LIMIT 500`)), hostLink("hostname")))
	d.add(linkOverrides(tablePanel("Inventory collection errors",
		"Sections the agent could not collect at its last inventory, with the reason it gave (a missing tool, a permission): that part of the host's inventory is missing or old.",
		12, 8,
		sqlTable(`SELECT h.id AS host_id, h.hostname, e.key AS section, e.value AS reason, h.collected_at
FROM hosts h
CROSS JOIN LATERAL json_each_text(CASE WHEN json_typeof(h.collect_errors) = 'object' THEN h.collect_errors ELSE '{}'::json END) AS e
WHERE h.collect_errors IS NOT NULL
  AND `+hostFilters+`
ORDER BY h.hostname, h.id, e.key
LIMIT 500`)), hostLink("hostname")))

	dash, err := d.build()
	return dash, d.core, err
}

// allRows makes a bar gauge show one bar per row of a table (named by
// the row's text column) of the numeric column field, instead of one
// reduced value per column.
func allRows(field string) cog.Builder[common.ReduceDataOptions] {
	return common.NewReduceDataOptionsBuilder().Values(true).Calcs([]string{}).Fields("/^" + field + "$/").Limit(50)
}
