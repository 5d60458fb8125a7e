package loadgen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/wire"
)

func TestSoftwareSectionIsCanonical(t *testing.T) {
	for _, packages := range []int{0, 1, 10, 500, 2000} {
		t.Run(fmt.Sprint(packages, " packages"), func(t *testing.T) {
			f, err := NewFleet(packages)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 30 {
				host := fmt.Sprintf("loadgen-test-%d", i)
				inv, err := f.Inventory(host, time.Now())
				if err != nil {
					t.Fatal(err)
				}
				checkFullInventory(t, &inv, packages, host)
				sw := sectionData(t, inv.Sections, "software")
				// The spliced section must be byte for byte what the
				// agent's encoder makes of the same packages.
				var doc inventory.Software
				if err := json.Unmarshal(sw, &doc); err != nil {
					t.Fatal(err)
				}
				if doc.Packages == nil {
					doc.Packages = []inventory.Package{}
				}
				want, err := inventory.Canonical(doc)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(sw, want) {
					t.Fatalf("%s: software section differs from inventory.Canonical:\n got %.200s\nwant %.200s", host, sw, want)
				}
				seen := map[string]bool{}
				for _, p := range doc.Packages {
					if seen[p.Name] {
						t.Fatalf("%s: package %s twice", host, p.Name)
					}
					seen[p.Name] = true
					if p.Version == "" || p.Source == "" || p.Arch == "" {
						t.Fatalf("%s: incomplete package %+v", host, p)
					}
				}
			}
		})
	}
}

func TestInventoryIsStablePerHost(t *testing.T) {
	f, err := NewFleet(100)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := f.Inventory("web-1", time.Now())
	b, _ := f.Inventory("web-1", time.Now().Add(time.Hour))
	c, _ := f.Inventory("web-2", time.Now())
	if a.Digest != b.Digest {
		t.Error("the same host reported two different inventories")
	}
	if a.Digest == c.Digest {
		t.Error("two hosts reported the same inventory")
	}
}

// TestFleetDedupesLikeARealFleet checks the catalog's shape: most of a
// host's packages are shared, name and version, with every other host of
// its release, and the fleet mixes several releases.
func TestFleetDedupesLikeARealFleet(t *testing.T) {
	const hosts, packages = 300, 200
	f, err := NewFleet(packages)
	if err != nil {
		t.Fatal(err)
	}
	type key struct{ name, version string }
	byRelease := map[string][]map[key]bool{}
	distinct := map[key]bool{}
	for i := range hosts {
		inv, err := f.Inventory(fmt.Sprintf("host-%d", i), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		var os inventory.OS
		if err := json.Unmarshal(sectionData(t, inv.Sections, "os"), &os); err != nil {
			t.Fatal(err)
		}
		var sw inventory.Software
		if err := json.Unmarshal(sectionData(t, inv.Sections, "software"), &sw); err != nil {
			t.Fatal(err)
		}
		set := map[key]bool{}
		for _, p := range sw.Packages {
			k := key{p.Name, p.Version}
			set[k] = true
			distinct[k] = true
		}
		rel := os.Platform + " " + os.Version
		byRelease[rel] = append(byRelease[rel], set)
	}
	if len(byRelease) < 4 {
		t.Errorf("fleet has %d releases, want a mix of at least 4", len(byRelease))
	}
	for rel, sets := range byRelease {
		shared := 0
		for k := range sets[0] {
			all := true
			for _, s := range sets[1:] {
				if !s[k] {
					all = false
					break
				}
			}
			if all {
				shared++
			}
		}
		if want := int(packages * CommonShare); len(sets) > 5 && shared != want {
			t.Errorf("%s: %d packages shared by all %d hosts, want %d", rel, shared, len(sets), want)
		}
	}
	// A fleet-wide catalog stays far smaller than hosts × packages.
	if len(distinct) > hosts*packages/10 {
		t.Errorf("%d distinct name/version pairs for %d hosts × %d packages: too little overlap", len(distinct), hosts, packages)
	}
}

func sectionData(t *testing.T, sections []wire.Section, name string) []byte {
	t.Helper()
	for _, s := range sections {
		if s.Name == name {
			return s.Data
		}
	}
	t.Fatalf("no %s section", name)
	return nil
}
