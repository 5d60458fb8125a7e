package generate

import (
	"github.com/grafana/grafana-foundation-sdk/go/bargauge"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/piechart"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// Panel constructors. Each takes the title, the description (every panel
// has one: it is the "i" an admin hovers to learn what a panel counts and
// where from), a width and height in grid units (24 columns per line) and
// the queries, and sets what the panel kind needs to read well. Callers
// adjust the rest (units, thresholds, links) on the returned builder.

// Grafana's named colours for states.
const (
	green  = "green"
	yellow = "yellow"
	orange = "orange"
	red    = "red"
	blue   = "blue"
	grey   = "text"
)

// step is one threshold: from value up, the colour. The first step's
// value is ignored (it starts at minus infinity).
type step struct {
	from  float64
	color string
}

// steps builds absolute thresholds.
func steps(base string, more ...step) cog.Builder[dashboard.ThresholdsConfig] {
	list := []dashboard.Threshold{{Color: base}}
	for _, s := range more {
		v := s.from
		list = append(list, dashboard.Threshold{Value: &v, Color: s.color})
	}
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(list)
}

// byThresholds colours values by the panel's thresholds.
func byThresholds() cog.Builder[dashboard.FieldColor] {
	return dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdThresholds)
}

// lastValue reduces a series to its latest non-null value.
func lastValue() cog.Builder[common.ReduceDataOptions] {
	return common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Values(false)
}

// valueText maps exact values to text and colour (1 → "up", green).
type valueText struct {
	value, text, color string
}

// mappings builds value mappings.
func mappings(vs ...valueText) []dashboard.ValueMapping {
	opts := make(map[string]dashboard.ValueMappingResult, len(vs))
	for i, v := range vs {
		text, color, index := v.text, v.color, int32(i)
		opts[v.value] = dashboard.ValueMappingResult{Text: &text, Color: &color, Index: &index}
	}
	return []dashboard.ValueMapping{{ValueMap: &dashboard.ValueMap{Type: dashboard.MappingTypeValueToText, Options: opts}}}
}

// statPanel shows one big number per series: its latest value.
func statPanel(title, desc, unit string, w, h uint32, qs ...query) *stat.PanelBuilder {
	b := stat.NewPanelBuilder().Title(title).Description(desc).Span(w).Height(h).Unit(unit).
		ReduceOptions(lastValue()).
		GraphMode(common.BigValueGraphModeArea).
		ColorMode(common.BigValueColorModeValue).
		TextMode(common.BigValueTextModeAuto).
		Orientation(common.VizOrientationAuto).
		ColorScheme(byThresholds()).
		Thresholds(steps(green))
	ts, ds, err := targets(qs)
	if err != nil {
		return b.RecordError("targets", err)
	}
	return b.Datasource(ds).Targets(ts)
}

// seriesPanel draws lines over time, with a legend and a tooltip that
// lists every series, largest first.
func seriesPanel(title, desc, unit string, w, h uint32, qs ...query) *timeseries.PanelBuilder {
	b := timeseries.NewPanelBuilder().Title(title).Description(desc).Span(w).Height(h).Unit(unit).
		Legend(common.NewVizLegendOptionsBuilder().
			ShowLegend(true).
			DisplayMode(common.LegendDisplayModeList).
			Placement(common.LegendPlacementBottom)).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderDescending)).
		LineWidth(1).
		FillOpacity(10).
		ShowPoints(common.VisibilityModeNever)
	ts, ds, err := targets(qs)
	if err != nil {
		return b.RecordError("targets", err)
	}
	return b.Datasource(ds).Targets(ts)
}

// stacked stacks a series panel's series, for parts of a whole.
func stacked(b *timeseries.PanelBuilder) *timeseries.PanelBuilder {
	return b.Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNormal)).FillOpacity(40)
}

// tablePanel shows rows, filterable by column.
func tablePanel(title, desc string, w, h uint32, qs ...query) *table.PanelBuilder {
	b := table.NewPanelBuilder().Title(title).Description(desc).Span(w).Height(h).
		Filterable(true).
		CellHeight(common.TableCellHeightSm).
		Footer(common.NewTableFooterOptionsBuilder().Show(false).Reducer([]string{"sum"}).CountRows(false))
	ts, ds, err := targets(qs)
	if err != nil {
		return b.RecordError("targets", err)
	}
	return b.Datasource(ds).Targets(ts)
}

// piePanel shows the latest value of each series as a share of a donut.
func piePanel(title, desc string, w, h uint32, qs ...query) *piechart.PanelBuilder {
	b := piechart.NewPanelBuilder().Title(title).Description(desc).Span(w).Height(h).Unit("short").
		PieType(piechart.PieChartTypeDonut).
		ReduceOptions(lastValue()).
		Legend(piechart.NewPieChartLegendOptionsBuilder().
			ShowLegend(true).
			DisplayMode(common.LegendDisplayModeTable).
			Placement(common.LegendPlacementRight).
			Values([]piechart.PieChartLegendValues{piechart.PieChartLegendValuesValue, piechart.PieChartLegendValuesPercent})).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeSingle).Sort(common.SortOrderNone))
	ts, ds, err := targets(qs)
	if err != nil {
		return b.RecordError("targets", err)
	}
	return b.Datasource(ds).Targets(ts)
}

// barsPanel shows the latest value of each series as a horizontal bar,
// in the order the query returns them.
func barsPanel(title, desc, unit string, w, h uint32, qs ...query) *bargauge.PanelBuilder {
	b := bargauge.NewPanelBuilder().Title(title).Description(desc).Span(w).Height(h).Unit(unit).
		Orientation(common.VizOrientationHorizontal).
		DisplayMode(common.BarGaugeDisplayModeBasic).
		ValueMode(common.BarGaugeValueModeText).
		NamePlacement(common.BarGaugeNamePlacementLeft).
		ShowUnfilled(true).
		ReduceOptions(lastValue()).
		MinVizHeight(16).
		MaxVizHeight(24).
		ColorScheme(byThresholds()).
		Thresholds(steps(blue))
	ts, ds, err := targets(qs)
	if err != nil {
		return b.RecordError("targets", err)
	}
	return b.Datasource(ds).Targets(ts)
}

// fieldLink is a link on the cells of one table column.
type fieldLink struct {
	field, title, url string
}

// linkOverrides puts links on table columns. A link's URL may use
// ${__data.fields.NAME} for the row's value of another column, and
// ${__url_time_range} to keep the time range.
func linkOverrides(b *table.PanelBuilder, links ...fieldLink) *table.PanelBuilder {
	for _, l := range links {
		b.OverrideByName(l.field, []dashboard.DynamicConfigValue{{
			Id:    "links",
			Value: []map[string]any{{"title": l.title, "url": l.url, "targetBlank": false}},
		}})
	}
	return b
}

// cellColors colours a text column by its values.
func cellColors(b *table.PanelBuilder, field string, vs ...valueText) *table.PanelBuilder {
	return b.OverrideByName(field, []dashboard.DynamicConfigValue{
		{Id: "mappings", Value: mappings(vs...)},
		{Id: "custom.cellOptions", Value: map[string]any{"type": "color-text"}},
	})
}

// columnUnit sets the unit of one table column.
func columnUnit(b *table.PanelBuilder, field, unit string) *table.PanelBuilder {
	return b.OverrideByName(field, []dashboard.DynamicConfigValue{{Id: "unit", Value: unit}})
}

// columnWidth fixes the width of one table column in pixels.
func columnWidth(b *table.PanelBuilder, field string, px float64) *table.PanelBuilder {
	return b.OverrideByName(field, []dashboard.DynamicConfigValue{{Id: "custom.width", Value: px}})
}

// hostLink is the link from a host row to the host dashboard; the row
// must have a host_id column.
func hostLink(field string) fieldLink {
	return fieldLink{
		field: field,
		title: "Open the host",
		url:   "/d/" + UIDHost + "?var-host=${__data.fields.host_id}&${__url_time_range}",
	}
}

// panelLink is a link in a panel's header menu to another dashboard,
// keeping the time range and the template variables both share.
func panelLink(title, uid string) cog.Builder[dashboard.DashboardLink] {
	return dashboard.NewDashboardLinkBuilder(title).
		Type(dashboard.DashboardLinkTypeLink).
		Url("/d/" + uid).
		KeepTime(true).
		IncludeVars(true)
}

// Colours of policy result statuses, the same on every dashboard.
var statusColors = []valueText{
	{"pass", "pass", green},
	{"fail", "fail", red},
	{"error", "error", orange},
	{"exempt", "exempt", blue},
	{"not_applicable", "not applicable", grey},
}

// Colours of severities, the same on every dashboard.
var severityColors = []valueText{
	{"critical", "critical", red},
	{"high", "high", orange},
	{"medium", "medium", yellow},
	{"low", "low", blue},
	{"info", "info", grey},
}

func ptr[T any](v T) *T { return &v }
