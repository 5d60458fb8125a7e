// Package preview draws a picture of a Grafana dashboard from the data
// its queries returned, so that a change to a dashboard can be looked at
// without running Grafana.
//
// The picture is not Grafana's rendering: it follows the dashboard's
// layout (the 24-column grid of each panel's gridPos, rows as headers,
// the panels of collapsed rows shown expanded) and draws each panel
// plainly by type:
//
//   - stat and gauge panels show their number, reduced from each series
//     with the panel's calculation (last non-null value by default) and
//     formatted in the panel's unit; a gauge adds a filled track between
//     its min and max;
//   - time series (and graph, heatmap and other time-based panels) are
//     drawn with gonum.org/v1/plot over the time range of the results,
//     with a legend under the plot;
//   - tables show their header and as many of their first rows as fit;
//   - bar gauges, bar charts and pie charts are drawn as horizontal bars;
//   - text panels show their content without Markdown marks;
//   - a panel whose query failed shows the error in red, one without data
//     "No data".
//
// Every image carries the dashboard's title and the line "Preview
// rendered from live query results - not a Grafana screenshot" (Label).
//
// The data comes in a small model: for each panel (by grafanaq.Panel.Key)
// a PanelData with series of timestamped points, tables of text cells,
// and query errors. Steward's end-to-end test TestDashboardQueries fills
// it from a real Prometheus and a real PostgreSQL fed by real Steward
// processes and, when STEWARD_PREVIEW_DIR is set, writes one PNG per
// dashboard there; `make previews` does that into dashboards/previews/.
//
// Text is set in Liberation Sans (bundled with gonum/plot); the image is
// DefaultWidth pixels wide unless Options.Width says otherwise, and as
// tall as the layout needs (Place).
package preview
