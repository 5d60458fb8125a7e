package ctl

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/steward-project/steward/server/internal/apitypes"
	"github.com/steward-project/steward/shared/inventory"
)

// hashPrefix is how much of a section hash the summary shows: enough to
// tell two reports apart by eye.
const hashPrefix = 12

// hostsInventory shows a summary line per inventory section of a host,
// or with section, that section's JSON. -o json prints the API's answer.
func hostsInventory(ctx context.Context, s *session, arg, section string) error {
	id, err := parseID("host", arg)
	if err != nil {
		return err
	}
	raw, err := s.client.Get(ctx, "/api/v1/hosts/"+strconv.FormatInt(id, 10)+"/inventory", nil)
	if err != nil {
		return err
	}
	var inv apitypes.Inventory
	if err := json.Unmarshal(raw, &inv); err != nil {
		return fmt.Errorf("decode inventory: %w", err)
	}
	if section != "" {
		if s.output == outputCSV {
			return &usageError{msg: "--section prints JSON: use -o table or -o json"}
		}
		data, ok := inv.Sections[section]
		switch {
		case ok:
		case inv.Errors[section] != "":
			return fmt.Errorf("host %d did not report section %s: %s", id, section, inv.Errors[section])
		default:
			return fmt.Errorf("host %d has no section %q; it reported: %s", id, section,
				cell(strings.Join(sectionNames(inv), ", ")))
		}
		if s.output == outputJSON {
			return printJSON(s.out, raw)
		}
		return printJSON(s.out, data)
	}
	if s.output == outputJSON {
		return printJSON(s.out, raw)
	}
	if inv.CollectedAt.IsZero() && len(inv.Sections) == 0 && len(inv.Errors) == 0 {
		return printf(s.out, "Host %d has reported no inventory yet.\n", id)
	}
	if err := printf(s.out, "Inventory of host %d, collected %s.\n", id, timeCell(inv.CollectedAt, "at an unknown time")); err != nil {
		return err
	}
	tw := newTable(s.out)
	tw.row("SECTION", "HASH", "SIZE", "ERROR")
	for _, name := range sectionNames(inv) {
		size := "-"
		if data, ok := inv.Sections[name]; ok {
			size = formatBytes(uint64(len(data)))
		}
		h := inv.Hashes[name]
		if len(h) > hashPrefix {
			h = h[:hashPrefix]
		}
		tw.row(name, cell(h), size, cell(inv.Errors[name]))
	}
	return tw.Flush()
}

// sectionNames lists the sections an inventory has data or an error
// for: the known ones in document order, then any others by name.
func sectionNames(inv apitypes.Inventory) []string {
	seen := map[string]bool{}
	for name := range inv.Sections {
		seen[name] = true
	}
	for name := range inv.Errors {
		seen[name] = true
	}
	var out []string
	for _, name := range inventory.SectionNames {
		if seen[name] {
			out = append(out, name)
			delete(seen, name)
		}
	}
	return append(out, slices.Sorted(maps.Keys(seen))...)
}
