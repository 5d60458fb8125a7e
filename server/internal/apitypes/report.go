package apitypes

// Compliance report formats: GET /api/v1/compliance/report?format=.
const (
	ReportCSV  = "csv"
	ReportHTML = "html"
)

// ReportCSVHeader is the first row of a CSV compliance report: one row
// follows per selected host and policy, in hostname, host id, policy id
// order. Status is "no_result" for a host that has not reported the
// policy. Labels and references are "k=v; k=v" and "catalogue:id; ...".
// A cell that a spreadsheet would take for a formula (it starts with =,
// +, -, @, a tab or a carriage return) is prefixed with a single quote.
var ReportCSVHeader = []string{"hostname", "host_id", "labels", "policy_id", "title", "severity", "references",
	"status", "underlying_status", "since", "last_checked", "exemption_reason", "evidence"}

// NoResult is the status a report shows for a host without a result.
const NoResult = "no_result"

// Remediation formats: GET /api/v1/policies/{id}/remediation?format=.
const (
	RemediationShell   = "sh"
	RemediationAnsible = "ansible"
)
