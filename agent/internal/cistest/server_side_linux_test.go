package cistest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/steward-project/steward/agent/internal/check"
	"github.com/steward-project/steward/agent/internal/collect"
	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/policy"
)

// offlineDifference is one entry of the pack's
// testdata/server-side-differences.yaml: the status a server-side
// counterpart gives on every offline root where its machine policy
// answers otherwise, and why.
type offlineDifference struct {
	Offline string `yaml:"offline"`
	Reason  string `yaml:"reason"`
}

func loadServerSideDifferences(t testing.TB) map[string]offlineDifference {
	return loadRuleMaps(t, "server-side-differences", func(*offlineDifference, string) {})
}

// TestServerSideAgreesOnImages holds the pack's server-side counterparts
// (server-side.yaml) to their machine policies on the same Debian 12
// images the OpenSCAP comparison uses, as installed and hardened: the
// agent's collector inventories each image under --root, the server-side
// policies are evaluated against that inventory alone with
// policy.InventoryEnv (what the server's compliance evaluator does with
// stored inventory), the machine policies with the agent's Env on the
// same root, and every pair must give the same status unless
// testdata/server-side-differences.yaml records the counterpart's
// offline answer with the reason. An entry that explains no difference
// on either image is stale and fails the test too.
func TestServerSideAgreesOnImages(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("the comparison builds Debian images with chroot: run the tests as root")
	}
	cov := packCoverage(t)
	if len(cov.serverSide) == 0 {
		t.Fatalf("the pack has no %s", serverSideFile)
	}
	known := loadServerSideDifferences(t)
	machine := map[string]policy.Policy{}
	for _, p := range cov.policies {
		machine[p.ID] = p
	}
	var pairs []policy.Policy // the machine policies that have a counterpart
	for _, p := range cov.serverSide {
		m, ok := machine[strings.TrimSuffix(p.ID, serverSideSuffix)]
		if !ok {
			t.Fatalf("%s: %s has no machine policy (TestCISCoverage says more)", serverSideFile, p.ID)
		}
		pairs = append(pairs, m)
	}
	for id := range known {
		if !slices.ContainsFunc(cov.serverSide, func(p policy.Policy) bool { return p.ID == id }) {
			t.Errorf("server-side-differences.yaml names %s, which %s does not hold", id, serverSideFile)
		}
	}

	dsXZ := filepath.Join(referenceDir(t), "ssg-debian12-ds.xml.xz")
	changes, changesText := loadChanges(t)
	images := []struct {
		name, variant string
		changes       imageChanges
		text          []byte
	}{{"as installed", "installed", imageChanges{}, nil}, {"hardened", "hardened", changes, changesText}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	used := map[string]bool{}
	var rows [][]string
	for _, im := range images {
		root, _ := scannedImage(t, dsXZ, im.variant, im.changes, im.text)
		doc := collect.Collect(ctx, collect.Config{Root: root})
		for _, section := range []string{"users", "software", "disks", "host"} {
			if msg, failed := doc.Errors[section]; failed {
				t.Fatalf("image %s: inventory section %s failed: %s", im.name, section, msg)
			}
		}
		onAgent := byPolicy(policy.EvaluateAll(ctx, pairs, check.NewEnv(ctx, check.Config{Root: root}, doc), 4))
		onServer := byPolicy(policy.EvaluateAll(ctx, cov.serverSide, policy.InventoryEnv(doc, ""), 4))
		agree := map[policy.Status]int{}
		for _, p := range cov.serverSide {
			s, m := onServer[p.ID], onAgent[strings.TrimSuffix(p.ID, serverSideSuffix)]
			switch {
			case s.Status == m.Status:
				agree[s.Status]++
			case known[p.ID].Offline == string(s.Status):
				used[p.ID] = true
			default:
				rows = append(rows, []string{im.name, p.ID, string(s.Status), string(m.Status),
					oneLine(s.Error + " " + evidenceLine(s)), oneLine(m.Error + " " + evidenceLine(m))})
			}
		}
		t.Logf("image %s: %d server-side policies; agreeing with their machine policy: %d pass, %d fail, %d not applicable, %d error; the rest recorded",
			im.name, len(cov.serverSide), agree[policy.StatusPass], agree[policy.StatusFail], agree[policy.StatusNotApplicable], agree[policy.StatusError])
	}
	if len(rows) > 0 {
		t.Errorf("%d server-side verdicts differ from their machine policy's and are not recorded in server-side-differences.yaml (fix the expression, or record the difference with the reason):\n%s",
			len(rows), table("IMAGE\tPOLICY\tSERVER\tAGENT\tSERVER EVIDENCE\tAGENT EVIDENCE", rows))
	}
	for id := range known {
		if !used[id] {
			t.Errorf("server-side-differences.yaml: %s explains no difference on either image (remove or correct it)", id)
		}
	}
}

func byPolicy(results []policy.Result) map[string]policy.Result {
	out := make(map[string]policy.Result, len(results))
	for _, r := range results {
		out[r.PolicyID] = r
	}
	return out
}

func evidenceLine(r policy.Result) string {
	var parts []string
	for _, e := range r.Evidence {
		parts = append(parts, fmt.Sprintf("%s: %s", e.Check, e.Detail))
	}
	return strings.Join(parts, "; ")
}

// oneLine trims s to one line of at most 160 bytes for a table.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}

// TestServerSideSysctl judges the kernel-parameter counterparts, which no
// offline root can (the inventory has running values only), on inventory
// documents: each must pass on the value its machine policy wants, fail
// on another and on a kernel without the parameter, and not apply without
// running values or in a container.
func TestServerSideSysctl(t *testing.T) {
	cov := packCoverage(t)
	machine := map[string]policy.Policy{}
	for _, p := range cov.policies {
		machine[p.ID] = p
	}
	n := 0
	for _, p := range cov.serverSide {
		m := machine[strings.TrimSuffix(p.ID, serverSideSuffix)]
		leaf := m.Check.Sysctl
		if leaf == nil {
			continue
		}
		n++
		good := leaf.Equals
		if good == "" {
			good = leaf.Max // a range: its upper end is wanted too
		}
		bad := "7"
		if good == "7" {
			bad = "0"
		}
		docs := []struct {
			name, sysctl, virt string
			want               policy.Status
		}{
			{"wanted value", fmt.Sprintf(`{%q: %s}`, leaf.Key, good), "kvm", policy.StatusPass},
			{"other value", fmt.Sprintf(`{%q: %s}`, leaf.Key, bad), "", policy.StatusFail},
			{"kernel without it", `{"vm.other": 1}`, "", policy.StatusFail},
			{"no running values", "", "", policy.StatusNotApplicable},
			{"container", fmt.Sprintf(`{%q: %s}`, leaf.Key, bad), "docker", policy.StatusNotApplicable},
		}
		for _, d := range docs {
			r := policy.Evaluate(context.Background(), p, policy.InventoryEnv(sysctlDoc(t, d.sysctl, d.virt), "linux"))
			if r.Status != d.want {
				t.Errorf("%s, %s: %s, want %s (error %q)\n%s", p.ID, d.name, r.Status, d.want, r.Error, evidenceLine(r))
			}
		}
	}
	if n == 0 {
		t.Fatalf("%s has no kernel-parameter counterparts", serverSideFile)
	}
}

// sysctlDoc is an inventory with the os.sysctl map given as JSON ("" for
// none) and host.virtualization.
func sysctlDoc(t *testing.T, sysctl, virt string) inventory.Document {
	t.Helper()
	os := `{"platform": "debian", "family": "debian"}`
	if sysctl != "" {
		os = fmt.Sprintf(`{"platform": "debian", "family": "debian", "sysctl": %s}`, sysctl)
	}
	host := fmt.Sprintf(`{"hostname": "h", "virtualization": %q}`, virt)
	return inventory.Document{Sections: map[string]json.RawMessage{"os": json.RawMessage(os), "host": json.RawMessage(host)}}
}
