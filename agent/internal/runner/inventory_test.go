package runner

import (
	"slices"
	"testing"
	"time"

	"github.com/steward-project/steward/shared/inventory"
)

func TestBuildInventory(t *testing.T) {
	osv := `{"name":"debian"}`
	cpu := `{"cores":4,"model":"x"}`
	now := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	cases := []struct {
		name         string
		sections     map[string]string
		errs         map[string]string
		acked        map[string]string
		wantSections []string
		wantRemoved  []string
		wantSkipped  []string
		wantErrors   []string
	}{
		{
			name:         "nothing acked sends all and names every absent section",
			sections:     map[string]string{"os": osv, "cpu": cpu},
			acked:        map[string]string{},
			wantSections: []string{"os", "cpu"},
			wantRemoved:  []string{"host", "memory", "disks", "network", "software", "services", "users", "ports"},
		},
		{
			name:     "unchanged sends nothing in full",
			sections: map[string]string{"os": osv, "cpu": cpu},
			acked:    hashesOf(map[string]string{"os": osv, "cpu": cpu}),
		},
		{
			name:         "changed and new sections",
			sections:     map[string]string{"os": `{"name":"ubuntu"}`, "cpu": cpu, "memory": `{"total_bytes":1}`},
			acked:        hashesOf(map[string]string{"os": osv, "cpu": cpu}),
			wantSections: []string{"os", "memory"},
		},
		{
			name:        "removed section",
			sections:    map[string]string{"os": osv},
			acked:       hashesOf(map[string]string{"os": osv, "cpu": cpu}),
			wantRemoved: []string{"cpu"},
		},
		{
			name:        "unknown and invalid sections are left out",
			sections:    map[string]string{"os": osv, "gpu": `{}`, "cpu": `{"cores":`},
			errs:        map[string]string{"ports": "unsupported", "bogus": "x"},
			acked:       hashesOf(map[string]string{"os": osv}),
			wantSkipped: []string{"bogus", "cpu", "gpu"},
			wantErrors:  []string{"ports"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := doc(tc.sections)
			d.Errors = tc.errs
			got := buildInventory(d, tc.acked, now)
			var names []string
			for _, s := range got.msg.Sections {
				names = append(names, s.Name)
				if s.Hash != inventory.Hash([]byte(tc.sections[s.Name])) {
					t.Errorf("section %s hash does not match its data", s.Name)
				}
			}
			if !slices.Equal(names, tc.wantSections) {
				t.Errorf("sections = %v, want %v", names, tc.wantSections)
			}
			if !slices.Equal(got.msg.Removed, tc.wantRemoved) {
				t.Errorf("removed = %v, want %v", got.msg.Removed, tc.wantRemoved)
			}
			slices.Sort(got.skipped)
			if !slices.Equal(got.skipped, tc.wantSkipped) {
				t.Errorf("skipped = %v, want %v", got.skipped, tc.wantSkipped)
			}
			var errNames []string
			for n := range got.msg.Errors {
				errNames = append(errNames, n)
			}
			if !slices.Equal(errNames, tc.wantErrors) {
				t.Errorf("errors for %v, want %v", errNames, tc.wantErrors)
			}
			if got.msg.Digest != inventory.Digest(got.hashes) {
				t.Error("digest is not the fold of the present sections' hashes")
			}
			if err := got.msg.Validate(); err != nil {
				t.Errorf("message would be refused by the server: %v", err)
			}
			if !got.msg.CollectedAt.Equal(d.CollectedAt) {
				t.Errorf("collected_at = %v, want the document's %v", got.msg.CollectedAt, d.CollectedAt)
			}
		})
	}
	t.Run("zero collection time uses now", func(t *testing.T) {
		got := buildInventory(inventory.Document{}, nil, now)
		if !got.msg.CollectedAt.Equal(now) {
			t.Errorf("collected_at = %v, want %v", got.msg.CollectedAt, now)
		}
	})
}
