package generate

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// Compliance: how compliant the fleet is per policy and over time, which
// policies are worst, which hosts fail and why, and which exemptions run
// out soon. Two versions: Compliance reads PostgreSQL for hosts and
// evidence; ComplianceProm uses Prometheus only.

// polSel selects the chosen policies and severities.
const polSel = `policy=~"$policy", severity=~"$severity"`

func selectionComplianceStat() cog.Builder[dashboard.Panel] {
	return statPanel("Compliance of the selection",
		"(pass + exempt) / (pass + fail + error + exempt) over the selected policies and severities, every host counted once per policy.",
		"percentunit", 4, 4,
		promNow(`sum(steward:policy_results:max{`+polSel+`, status=~"pass|exempt"}) / sum(steward:policy_results:max{`+polSel+`, status=~"pass|fail|error|exempt"})`, "compliance")).
		Min(0).Max(1).
		Thresholds(steps(red, step{0.8, yellow}, step{0.95, green}))
}

func statusCountStat(title, desc, status, color string) cog.Builder[dashboard.Panel] {
	return statPanel(title, desc, "short", 4, 4,
		promNow(`sum(steward:policy_results:max{`+polSel+`, status="`+status+`"}) or vector(0)`, status)).
		Thresholds(steps(green, step{1, color}))
}

func policiesBelowStat() cog.Builder[dashboard.Panel] {
	return statPanel("Policies below 95 %",
		"Selected policies whose compliance ratio is under 0.95. A policy no host reports on has no ratio and is not counted.",
		"short", 4, 4,
		promNow(`count(steward:policy_compliance_ratio:max{`+polSel+`} < 0.95) or vector(0)`, "policies")).
		Thresholds(steps(green, step{1, orange}))
}

func compliancePerPolicy() cog.Builder[dashboard.Panel] {
	return seriesPanel("Compliance per policy",
		"Each selected policy's compliance ratio over time (steward:policy_compliance_ratio:max): (pass + exempt) / (pass + fail + error + exempt) of the hosts it applies to. A step down is a new failure or a policy changed; the annotations mark policy and exemption changes.",
		"percentunit", 12, 9,
		prom(`steward:policy_compliance_ratio:max{`+polSel+`}`, "{{policy}}")).
		Min(0).Max(1)
}

func complianceBySeverity() cog.Builder[dashboard.Panel] {
	return colorSeries(seriesPanel("Compliance by severity",
		"Compliance ratio per policy severity, summed over the policies of that severity (steward:compliance_ratio:by_severity), with the fleet's over every policy.",
		"percentunit", 12, 9,
		prom(`steward:compliance_ratio:by_severity{severity=~"$severity"}`, "{{severity}}"),
		prom(`steward:compliance_ratio:fleet`, "fleet")).
		Min(0).Max(1), severityColors...)
}

func worstPolicies() cog.Builder[dashboard.Panel] {
	return barsPanel("Worst policies",
		"The ten selected policies with the lowest compliance ratio now, worst first.",
		"percentunit", 8, 10,
		promNow(`sort(bottomk(10, steward:policy_compliance_ratio:max{`+polSel+`}))`, "{{policy}} ({{severity}})")).
		Min(0).Max(1).
		Thresholds(steps(red, step{0.8, yellow}, step{0.95, green}))
}

func resultsByStatus() cog.Builder[dashboard.Panel] {
	return colorSeries(stacked(seriesPanel("Results by status",
		"Current results of the selected policies by status, one per host and policy (not applicable left out); an exempt result counts only as exempt.",
		"short", 8, 10,
		prom(`sum by (status) (steward:policy_results:max{`+polSel+`, status!="not_applicable"})`, "{{status}}"))),
		statusColors...)
}

// Compliance is the compliance dashboard over Prometheus and PostgreSQL.
func Compliance() (dashboard.Dashboard, []string, error) {
	d := newBoard(UIDCompliance, "Steward / Compliance",
		"How compliant the fleet is per policy and over time, which policies are worst, which hosts fail and why, and which exemptions run out soon. Ratios come from Prometheus; hosts, evidence and exemptions from PostgreSQL.",
		"now-7d", "5m")
	d.links(fullNav)
	d.variable(sqlVar("policy", "Policy", "Policies to show, by id.",
		`SELECT id FROM policies ORDER BY id`, true))
	d.variable(severityVar(true))
	d.variable(osVarSQL())
	d.variable(labelVar())
	d.b.Annotation(auditAnnotation("Policy and exemption changes", "blue",
		"policy_applied", "policy_deleted", "exemption_added", "exemption_revoked"))

	complianceTrends(d)
	d.addCore(colorSeries(stacked(seriesPanel("Result changes",
		"Hosts entering a status per interval, for the selected policies, OSes and labels (result_transitions): first result is a host's first result for a policy, to fail a regression, to pass a fix.",
		"short", 8, 10,
		sqlSeries(`SELECT $__timeGroupAlias(t.at, $__interval),
  CASE WHEN t.from_status IS NULL THEN 'first result' ELSE 'to ' || t.to_status END AS metric,
  count(*) AS value
FROM result_transitions t
JOIN policies p ON p.id = t.policy_id
JOIN hosts h ON h.id = t.host_id
WHERE $__timeFilter(t.at)
  AND t.policy_id = ANY(ARRAY[${policy:sqlstring}]::text[])
  AND p.severity = ANY(ARRAY[${severity:sqlstring}]::text[])
  AND `+hostFilters+`
GROUP BY 1, 2
ORDER BY 1`))).DrawStyle(common.GraphDrawStyleBars).FillOpacity(80),
		valueText{"to fail", "", red}, valueText{"to pass", "", green}, valueText{"to error", "", orange},
		valueText{"to not_applicable", "", grey}, valueText{"first result", "", blue}))

	d.row("Failing hosts")
	d.addCore(cellColors(linkOverrides(tablePanel("Failing hosts with evidence",
		"Every host failing a selected policy now, exempt ones excluded: most severe first, then newest failure first. evidence joins the details of the checks that failed; failing_since is when the host entered the failing state. Click a host name for its details.",
		24, 12,
		sqlTable(`SELECT h.id AS host_id, h.hostname, `+hostOS+` AS os, p.severity, r.policy_id AS policy, p.title,
  r.since AS failing_since, r.checked_at,
  `+failedChecks("r.evidence")+` AS evidence
FROM results_current r
JOIN policies p ON p.id = r.policy_id
JOIN hosts h ON h.id = r.host_id
WHERE r.status = 'fail'
  AND r.policy_id = ANY(ARRAY[${policy:sqlstring}]::text[])
  AND p.severity = ANY(ARRAY[${severity:sqlstring}]::text[])
  AND `+hostFilters+`
  AND `+notExempt+`
ORDER BY `+severityRank("p.severity")+`, r.since DESC, h.hostname, r.policy_id
LIMIT 1000`)), hostLink("hostname")), "severity", severityColors...))
	d.add(linkOverrides(tablePanel("Hosts with checks in error",
		"Hosts where a selected policy's check could not run, with the error: usually a permission or a missing tool on the host rather than a compliance problem. Exempt ones excluded.",
		12, 8,
		sqlTable(`SELECT h.id AS host_id, h.hostname, r.policy_id AS policy, p.severity, r.error,
  r.since AS erroring_since, r.checked_at
FROM results_current r
JOIN policies p ON p.id = r.policy_id
JOIN hosts h ON h.id = r.host_id
WHERE r.status = 'error'
  AND r.policy_id = ANY(ARRAY[${policy:sqlstring}]::text[])
  AND p.severity = ANY(ARRAY[${severity:sqlstring}]::text[])
  AND `+hostFilters+`
  AND `+notExempt+`
ORDER BY r.since DESC, h.hostname, r.policy_id
LIMIT 500`)), hostLink("hostname")))
	d.add(tablePanel("Exemptions expiring within 30 days",
		"Active exemptions of the selected policies that expire in the next 30 days, soonest first: renew them (POST /api/v1/exemptions) or fix the hosts before the failures come back. An exemption names one host or a set of labels.",
		12, 8,
		sqlTable(`SELECT e.id, e.policy_id AS policy, e.expires_at,
  COALESCE(h.hostname, '') AS hostname,
  CASE WHEN e.host_id IS NULL THEN e.labels::text ELSE '' END AS labels,
  e.owner, e.reason, e.created_by
FROM exemptions e
LEFT JOIN hosts h ON h.id = e.host_id
WHERE e.revoked_at IS NULL
  AND e.expires_at > now()
  AND e.expires_at <= now() + interval '30 days'
  AND e.policy_id = ANY(ARRAY[${policy:sqlstring}]::text[])
ORDER BY e.expires_at, e.id
LIMIT 500`)))

	dash, err := d.build()
	return dash, d.core, err
}

// ComplianceProm is the compliance dashboard from Prometheus series only,
// for deployments on the embedded store.
func ComplianceProm() (dashboard.Dashboard, []string, error) {
	d := newBoard(UIDComplianceProm, "Steward / Compliance (Prometheus)",
		"How compliant the fleet is per policy and over time and which policies are worst, from the series steward-server exports and the recording rules alone: works with the embedded SQLite store. Failing hosts and their evidence are in the API (GET /api/v1/policies/{id}/results?status=fail) or stewardctl.",
		"now-7d", "5m")
	d.links(promNav)
	d.variable(promVar("policy", "Policy", "Policies to show, by id (from the steward_policy_results series).",
		"steward:policy_results:max", "policy", ".*"))
	d.variable(severityVar(false))

	complianceTrends(d)
	d.addCore(barsPanel("Failing hosts per policy",
		"The fifteen selected policies failing on most hosts now, most first (exempt results excluded).",
		"short", 8, 10,
		promNow(`sort_desc(topk(15, sum by (policy) (steward:policy_results:max{`+polSel+`, status="fail"}) > 0))`, "{{policy}}")).
		Thresholds(steps(red)))

	d.row("Per policy")
	d.addCore(tablePanel("Hosts per policy and status",
		"One row per selected policy, one column per result status, counting hosts now.",
		24, 10,
		promTable(`sum by (policy, status) (steward:policy_results:max{`+polSel+`})`)).
		WithTransformation(dashboard.DataTransformerConfig{
			Id:      "groupingToMatrix",
			Options: map[string]any{"columnField": "status", "rowField": "policy", "valueField": "Value"},
		}))

	dash, err := d.build()
	return dash, d.core, err
}

// auditAnnotation marks the audit log's entries of the given actions on
// the time series panels.
func auditAnnotation(name, color string, actions ...string) cog.Builder[dashboard.AnnotationQuery] {
	list := ""
	for i, a := range actions {
		if i > 0 {
			list += ", "
		}
		list += "'" + a + "'"
	}
	return dashboard.NewAnnotationQueryBuilder().
		Name(name).
		Datasource(dsRef(PostgresUID)).
		Enable(true).
		IconColor(color).
		Target(SQLQuery{RefID: "Anno", Datasource: dsRef(PostgresUID), EditorMode: "code", Format: "table", RawQuery: true,
			RawSQL: `SELECT a.at AS time,
  a.action || ' by ' || a.actor || ': ' || COALESCE(NULLIF(a.subject, ''), a.detail::text) AS text,
  a.action AS tags
FROM audit_log a
WHERE $__timeFilter(a.at)
  AND a.action IN (` + list + `)
ORDER BY a.at`})
}

// complianceTrends adds the panels both compliance dashboards open with:
// the summary stats and the trends, all from Prometheus.
func complianceTrends(d *board) {
	d.addCore(fleetComplianceStat(4))
	d.addCore(selectionComplianceStat())
	d.addCore(statusCountStat("Failing results",
		"Hosts failing a selected policy, one per host and policy, exempt ones excluded (steward:policy_results:max{status=\"fail\"}).",
		"fail", red))
	d.add(statusCountStat("Checks in error",
		"Results whose check could not run (a file that cannot be read, a command that failed); they count against compliance.",
		"error", orange))
	d.add(statusCountStat("Exempt results",
		"Results an active exemption excuses; they count as compliant until the exemption expires.",
		"exempt", blue))
	d.addCore(policiesBelowStat())

	d.row("Trends")
	d.addCore(compliancePerPolicy())
	d.addCore(complianceBySeverity())
	d.addCore(worstPolicies())
	d.addCore(resultsByStatus())
}
