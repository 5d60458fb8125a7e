package generate

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// The fleet overview: is every machine reporting, what runs where, what
// joined and what changed. Two versions: Fleet reads PostgreSQL for the
// host lists; FleetProm uses Prometheus only.

// hostsSel selects the deduplicated host counts of the chosen OSes.
const hostsSel = `steward:hosts:max{os=~"$os"`

func hostsOnlineStat() cog.Builder[dashboard.Panel] {
	return statPanel("Hosts online",
		"Enrolled hosts heard from within three heartbeat intervals (steward_hosts{online=\"true\"}, computed by the server every metrics.fleet_interval), for the selected OSes.",
		"short", 4, 4,
		promNow(`sum(`+hostsSel+`, online="true"}) or vector(0)`, "online"))
}

func hostsOfflineStat() cog.Builder[dashboard.Panel] {
	return statPanel("Hosts offline",
		"Enrolled hosts not heard from within three heartbeat intervals, including hosts that enrolled but never connected. Laptops that are shut down count here: watch the trend, not the number.",
		"short", 4, 4,
		promNow(`sum(`+hostsSel+`, online="false"}) or vector(0)`, "offline")).
		Thresholds(steps(grey))
}

func onlineShareStat() cog.Builder[dashboard.Panel] {
	return statPanel("Share online",
		"Hosts online divided by enrolled hosts, for the selected OSes.",
		"percentunit", 4, 4,
		promNow(`sum(`+hostsSel+`, online="true"}) / sum(`+hostsSel+`})`, "online")).
		Min(0).Max(1).
		Thresholds(steps(orange, step{0.9, green}))
}

func fleetComplianceStat(w uint32) cog.Builder[dashboard.Panel] {
	return statPanel("Fleet compliance",
		"(pass + exempt) / (pass + fail + error + exempt) over every policy and host (steward:compliance_ratio:fleet); hosts a policy does not apply to are left out. Opens the compliance dashboard.",
		"percentunit", w, 4,
		promNow(`steward:compliance_ratio:fleet`, "compliance")).
		Min(0).Max(1).
		Thresholds(steps(red, step{0.8, yellow}, step{0.95, green}))
}

func firingAlertsStat(uid string) cog.Builder[dashboard.Panel] {
	return statPanel("Firing alerts",
		"Open alerts that are neither acknowledged nor muted, over every rule (steward:alerts:max{state=\"firing\"}).",
		"short", 4, 4,
		promNow(`sum(steward:alerts:max{state="firing"}) or vector(0)`, "firing")).
		Thresholds(steps(green, step{1, red})).
		Links([]cog.Builder[dashboard.DashboardLink]{panelLink("Open alerts", uid)})
}

func hostsOverTime() cog.Builder[dashboard.Panel] {
	b := stacked(seriesPanel("Hosts online and offline",
		"Enrolled hosts by whether they were heard from within three heartbeat intervals, for the selected OSes. A sudden drop of online hosts is a network or server problem rather than machines switched off; the StewardAgentsDisappearing alert watches for it.",
		"short", 12, 8,
		prom(`sum(`+hostsSel+`, online="true"})`, "online"),
		prom(`sum(`+hostsSel+`, online="false"})`, "offline")))
	return colorSeries(b, valueText{"online", "", green}, valueText{"offline", "", grey})
}

func osPie() cog.Builder[dashboard.Panel] {
	return piePanel("Operating systems",
		"Enrolled hosts by operating system family; unknown is a host that has not reported yet.",
		6, 8,
		promNow(`sum by (os) (`+hostsSel+`})`, "{{os}}"))
}

func agentVersionsPie() cog.Builder[dashboard.Panel] {
	return piePanel("Agent versions",
		"Enrolled hosts by the agent version they last reported (steward:agent_versions:max): a rollout's progress, and the stragglers.",
		6, 8,
		promNow(`sum by (version) (steward:agent_versions:max)`, "{{version}}"))
}

func osVersionsBars() cog.Builder[dashboard.Panel] {
	return barsPanel("OS versions",
		"The fifteen most common platform and version pairs among the selected OSes, most hosts first: what an OS upgrade campaign still has to reach.",
		"short", 12, 8,
		promNow(`sort_desc(topk(15, sum by (os, platform, os_version) (`+hostsSel+`})))`, "{{platform}} {{os_version}} ({{os}})"))
}

func changesByKind(w uint32) cog.Builder[dashboard.Panel] {
	return stacked(seriesPanel("Inventory changes by kind",
		"Inventory changes recorded per minute, by kind (software_upgraded, port_opened, admin_added, ...; steward_inventory_changes_total), summed over servers. A host's first inventory is one first_inventory change.",
		"cpm", w, 8,
		prom(`60 * sum by (kind) (rate(steward_inventory_changes_total[$__rate_interval]))`, "{{kind}}")))
}

// colorSeries gives series named by their legend fixed colours.
func colorSeries(b *timeseries.PanelBuilder, vs ...valueText) *timeseries.PanelBuilder {
	for _, v := range vs {
		b.OverrideByName(v.value, []dashboard.DynamicConfigValue{{
			Id:    "color",
			Value: map[string]any{"mode": "fixed", "fixedColor": v.color},
		}})
	}
	return b
}

// hostOSVar is the OS variable of both fleet overviews, from the
// steward_hosts series; allValue is what "All" stands for ("" for
// Grafana's own).
func hostOSVar(allValue string) cog.Builder[dashboard.VariableModel] {
	return promVar("os", "OS", "Operating systems to show (from the steward_hosts series); unknown is a host that has not reported one yet.",
		"steward:hosts:max", "os", allValue)
}

// Fleet is the fleet overview over Prometheus and PostgreSQL.
func Fleet() (dashboard.Dashboard, []string, error) {
	d := newBoard(UIDFleet, "Steward / Fleet overview",
		"Is every machine reporting, what runs where, what joined and what changed. Counts come from Prometheus (the server's fleet series), host lists from PostgreSQL.",
		"now-24h", "1m")
	d.links(fullNav)
	d.variable(hostOSVar(""))
	d.variable(labelVar())
	d.variable(onlineWindowVar())

	d.addCore(hostsOnlineStat())
	d.add(hostsOfflineStat())
	d.addCore(onlineShareStat())
	d.addCore(statPanel("Enrolled in range",
		"Hosts that enrolled within the dashboard's time range, for the selected OSes and labels (hosts.enrolled_at).",
		"short", 4, 4,
		sqlTable(`SELECT count(*) AS enrolled
FROM hosts h
WHERE $__timeFilter(h.enrolled_at)
  AND `+hostFilters)).
		Thresholds(steps(blue)))
	d.addCore(fleetComplianceStat(4))
	d.addCore(firingAlertsStat(UIDAlerts))

	d.row("Hosts")
	d.addCore(hostsOverTime())
	d.addCore(osPie())
	d.addCore(agentVersionsPie())
	d.addCore(osVersionsBars())
	d.add(linkOverrides(tablePanel("Offline hosts",
		"Hosts whose latest connection is closed or that have not spoken within the online window, most recently seen first; never connected hosts last. Click a host name for its details.",
		12, 8,
		sqlTable(`SELECT h.id AS host_id, h.hostname, `+hostOS+` AS os, h.platform, h.os_version, h.agent_version,
  h.last_seen, extract(epoch FROM now() - h.last_seen) AS offline_for
FROM hosts h
WHERE NOT `+isOnline+`
  AND `+hostFilters+`
ORDER BY h.last_seen DESC NULLS LAST, h.id
LIMIT 200`)), hostLink("hostname")).
		OverrideByName("offline_for", []dashboard.DynamicConfigValue{{Id: "unit", Value: "dtdurations"}}))

	d.row("Enrollments and changes")
	d.addCore(seriesPanel("Enrollments",
		"Hosts enrolled per interval, by the time of their enrollment (hosts.enrolled_at), for the selected OSes and labels. Refused enrollments are on the server health dashboard.",
		"short", 8, 8,
		sqlSeries(`SELECT $__timeGroupAlias(h.enrolled_at, $__interval), 'enrolled' AS metric, count(*) AS value
FROM hosts h
WHERE $__timeFilter(h.enrolled_at)
  AND `+hostFilters+`
GROUP BY 1, 2
ORDER BY 1`)).
		DrawStyle(common.GraphDrawStyleBars).FillOpacity(80))
	d.addCore(linkOverrides(tablePanel("Recent enrollments",
		"Hosts enrolled within the time range, newest first, with what they reported since. Click a host name for its details.",
		16, 8,
		sqlTable(`SELECT h.id AS host_id, h.hostname, `+hostOS+` AS os, h.platform, h.os_version, h.agent_version,
  h.enrolled_at, h.last_seen
FROM hosts h
WHERE $__timeFilter(h.enrolled_at)
  AND `+hostFilters+`
ORDER BY h.enrolled_at DESC, h.id DESC
LIMIT 100`)), hostLink("hostname")))
	d.addCore(changesByKind(12))
	d.addCore(tablePanel("Top changes",
		"The inventory changes that touched most hosts within the time range (first inventories left out): a package upgraded everywhere, a port opened on many hosts. hosts counts distinct hosts, changes every row.",
		12, 8,
		sqlTable(`SELECT c.kind, c.subject, count(DISTINCT c.host_id) AS hosts, count(*) AS changes,
  max(c.first_seen) AS latest
FROM host_changes c
JOIN hosts h ON h.id = c.host_id
WHERE $__timeFilter(c.first_seen)
  AND c.kind <> 'first_inventory'
  AND `+hostFilters+`
GROUP BY c.kind, c.subject
ORDER BY hosts DESC, changes DESC, c.kind, c.subject
LIMIT 25`)).
		Links([]cog.Builder[dashboard.DashboardLink]{panelLink("Every change on the inventory dashboard", UIDInventory)}))

	dash, err := d.build()
	return dash, d.core, err
}

// FleetProm is the fleet overview from Prometheus series only, for
// deployments on the embedded store.
func FleetProm() (dashboard.Dashboard, []string, error) {
	d := newBoard(UIDFleetProm, "Steward / Fleet overview (Prometheus)",
		"Is every machine reporting, what runs where, what joined and what changed, from the series steward-server exports and the recording rules alone: works with the embedded SQLite store. Per-host lists need the PostgreSQL dashboards or the API.",
		"now-24h", "1m")
	d.links(promNav)
	d.variable(hostOSVar(".*"))

	d.addCore(hostsOnlineStat())
	d.add(hostsOfflineStat())
	d.addCore(onlineShareStat())
	d.addCore(statPanel("Agents connected",
		"Agents with an open WebSocket, summed over servers (steward_agents_connected). Close to hosts online when every agent reports on time.",
		"short", 4, 4,
		promNow(`sum(steward_agents_connected)`, "connected")).
		Thresholds(steps(blue)))
	d.addCore(fleetComplianceStat(4))
	d.addCore(firingAlertsStat(UIDAlerts))

	d.row("Hosts")
	d.addCore(hostsOverTime())
	d.addCore(osPie())
	d.addCore(agentVersionsPie())
	d.addCore(osVersionsBars())
	d.addCore(tablePanel("Hosts by OS version",
		"Enrolled hosts per OS, platform, version and online state, as the server counts them now.",
		12, 8,
		promTable(`sum by (os, platform, os_version, online) (`+hostsSel+`})`)).
		WithTransformation(dashboard.DataTransformerConfig{
			Id:      "organize",
			Options: map[string]any{"excludeByName": map[string]any{"Time": true}, "renameByName": map[string]any{"Value": "hosts"}},
		}))

	d.row("Enrollments and changes")
	d.addCore(seriesPanel("Enrollments by result",
		"Enrollment requests per minute by result: ok, refused (a wrong or revoked enroll secret) or error (steward_enrollments_total).",
		"cpm", 12, 8,
		prom(`60 * sum by (result) (rate(steward_enrollments_total[$__rate_interval]))`, "{{result}}")))
	d.addCore(changesByKind(12))

	dash, err := d.build()
	return dash, d.core, err
}
