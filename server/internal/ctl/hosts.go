package ctl

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"

	"github.com/steward-project/steward/server/internal/apitypes"
	"github.com/steward-project/steward/shared/inventory"
)

func hostsList(ctx context.Context, s *session, limit int) error {
	if err := checkLimit(limit); err != nil {
		return err
	}
	items, err := collectPages(ctx, s.client, "/api/v1/hosts", url.Values{"limit": {strconv.Itoa(limit)}}, "hosts")
	if err != nil {
		return err
	}
	if s.output == outputJSON {
		return printJSON(s.out, struct {
			Hosts []json.RawMessage `json:"hosts"`
		}{items})
	}
	hosts, err := decodeAll[apitypes.Host](items)
	if err != nil {
		return err
	}
	tw := newTable(s.out)
	tw.row("ID", "HOSTNAME", "OS", "VERSION", "ONLINE", "LAST SEEN", "DUPLICATE OF")
	for _, h := range hosts {
		tw.row(h.ID, cell(h.Hostname), cell(osName(h)),
			cell(h.OSVersion), yesNo(h.Online), timeCell(h.LastSeen, "never"), cell(idList(h.PossibleDuplicates, ",")))
	}
	return tw.Flush()
}

// idList joins host ids with sep.
func idList(ids []int64, sep string) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, sep)
}

// osName prefers the platform (debian, windows, darwin) over the OS family
// Go reports, which says less to a person.
func osName(h apitypes.Host) string {
	if h.Platform != "" {
		return h.Platform
	}
	return h.OS
}

func hostsShow(ctx context.Context, s *session, arg string) error {
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || id < 1 {
		return &usageError{msg: fmt.Sprintf("host ID %q is not a positive integer", arg)}
	}
	path := "/api/v1/hosts/" + strconv.FormatInt(id, 10)
	hostRaw, err := s.client.Get(ctx, path, nil)
	if err != nil {
		return err
	}
	invRaw, err := s.client.Get(ctx, path+"/inventory", nil)
	if err != nil {
		return err
	}
	labelsRaw, err := s.client.Get(ctx, path+"/labels", nil)
	if err != nil {
		return err
	}
	var hl struct {
		Labels json.RawMessage `json:"labels"`
	}
	if err := json.Unmarshal(labelsRaw, &hl); err != nil || hl.Labels == nil {
		return fmt.Errorf("decode labels: the answer has no labels object")
	}
	if s.output == outputJSON {
		return printJSON(s.out, struct {
			Host      json.RawMessage `json:"host"`
			Labels    json.RawMessage `json:"labels"`
			Inventory json.RawMessage `json:"inventory"`
		}{hostRaw, hl.Labels, invRaw})
	}
	var labels map[string]string
	if err := json.Unmarshal(hl.Labels, &labels); err != nil {
		return fmt.Errorf("decode labels: %w", err)
	}
	var h apitypes.Host
	var inv apitypes.Inventory
	if err := json.Unmarshal(hostRaw, &h); err != nil {
		return fmt.Errorf("decode host: %w", err)
	}
	if err := json.Unmarshal(invRaw, &inv); err != nil {
		return fmt.Errorf("decode inventory: %w", err)
	}
	return printHost(s.out, h, labels, inv)
}

func printHost(w io.Writer, h apitypes.Host, labels map[string]string, inv apitypes.Inventory) error {
	tw := newTable(w)
	row := func(k, v string) { tw.kv(k, v) }
	row("ID", strconv.FormatInt(h.ID, 10))
	row("Hostname", cell(h.Hostname))
	row("OS", cell(strings.TrimSpace(h.OS+" "+h.Platform+" "+h.OSVersion)))
	row("Arch", cell(h.Arch))
	row("Agent version", cell(h.AgentVersion))
	row("Online", yesNo(h.Online))
	row("Last seen", timeCell(h.LastSeen, "never"))
	row("Enrolled at", timeCell(h.EnrolledAt, "-"))
	row("Hardware UUID", cell(h.HardwareUUID))
	row("Machine ID", cell(h.MachineID))
	row("Serial", cell(h.Serial))
	if len(h.PossibleDuplicates) > 0 {
		// Same hardware UUID or machine id: most likely a cloned machine.
		noun := "hosts "
		if len(h.PossibleDuplicates) == 1 {
			noun = "host "
		}
		row("Duplicate of", noun+idList(h.PossibleDuplicates, ", ")+" (same hardware UUID or machine id)")
	}
	if r := h.PolicyRefusal; r != nil {
		row("Policy refusal", refusalCell(r))
	}
	row("Labels", labelsCell(labels))
	if inv.CollectedAt.IsZero() && len(inv.Sections) == 0 {
		row("Inventory", "none reported yet")
		return tw.Flush()
	}
	row("Inventory", "collected "+timeCell(inv.CollectedAt, "at an unknown time"))
	for _, s := range summarize(inv) {
		row("  "+s.label, s.value)
	}
	return tw.Flush()
}

type summaryLine struct{ label, value string }

// summarize picks the few inventory facts people ask about first; the
// rest is one -o json away.
func summarize(inv apitypes.Inventory) []summaryLine {
	var lines []summaryLine
	add := func(label, section string, describe func(raw json.RawMessage) (string, error)) {
		raw, ok := inv.Sections[section]
		if !ok {
			why := "not reported"
			if reason := inv.Errors[section]; reason != "" {
				why += " (" + reason + ")"
			}
			lines = append(lines, summaryLine{label, why})
			return
		}
		v, err := describe(raw)
		if err != nil {
			v = "unreadable: " + err.Error()
		}
		lines = append(lines, summaryLine{label, v})
	}
	add("OS name", inventory.SectionOS, describeOS)
	add("CPU", inventory.SectionCPU, describeCPU)
	add("Memory", inventory.SectionMemory, describeMemory)
	add("Packages", inventory.SectionSoftware, describeSoftware)

	var present []string
	for _, name := range inventory.SectionNames {
		if _, ok := inv.Sections[name]; ok {
			present = append(present, name)
		}
	}
	lines = append(lines, summaryLine{"Sections", cell(strings.Join(present, ", "))})
	for _, name := range inventory.SectionNames {
		if reason, ok := inv.Errors[name]; ok {
			lines = append(lines, summaryLine{"Error", name + ": " + reason})
		}
	}
	return lines
}

func describeOS(raw json.RawMessage) (string, error) {
	var o inventory.OS
	if err := json.Unmarshal(raw, &o); err != nil {
		return "", err
	}
	s := cell(o.Name)
	if o.Kernel != "" {
		s += ", kernel " + o.Kernel
	}
	return s, nil
}

func describeCPU(raw json.RawMessage) (string, error) {
	var c inventory.CPU
	if err := json.Unmarshal(raw, &c); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s (%s, %s, %s)", cell(c.Model),
		plural(c.Sockets, "socket"), plural(c.Cores, "core"), plural(c.Threads, "thread")), nil
}

func describeMemory(raw json.RawMessage) (string, error) {
	var m inventory.Memory
	if err := json.Unmarshal(raw, &m); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s, swap %s", formatBytes(m.TotalBytes), formatBytes(m.SwapBytes)), nil
}

func describeSoftware(raw json.RawMessage) (string, error) {
	// Only the count is shown, so the packages are not decoded.
	var sw struct {
		Packages []json.RawMessage `json:"packages"`
	}
	if err := json.Unmarshal(raw, &sw); err != nil {
		return "", err
	}
	return strconv.Itoa(len(sw.Packages)), nil
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
