package cistest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/steward-project/steward/agent/internal/check"
	"github.com/steward-project/steward/agent/internal/collect"
	"github.com/steward-project/steward/agent/internal/testimage"
	"github.com/steward-project/steward/shared/policy"
)

// How the comparison image is made. OpenSCAP runs INSIDE a copy of the
// cached debootstrap image (chroot IMAGE oscap ...), with linux-base and
// openscap-scanner installed into the copy by the image's own apt:
// linux-base makes the content treat the image as a full machine, and
// running oscap inside the image lets its dpkginfo probe read the
// image's package database. Debian's oscap-chroot (oscap 1.3.7) fails in
// that probe on this image ("dpkginfo_init has failed") and leaves 263 of
// the 403 rules not applicable. The chroot has no /proc or /sys mounted,
// as for an offline image: the few rules that need a running system get
// no verdict from OpenSCAP (error or unknown) and are not compared.
//
// Bump prepareVersion when the preparation steps change, scanVersion when
// the scan steps change: both key the caches in /var/tmp.
const (
	prepareVersion = "1: linux-base openscap-scanner, apt-get clean"
	scanVersion    = "1: changes, oscap xccdf eval in chroot, results.tsv"
	cacheBase      = "/var/tmp"
	readyMarker    = ".steward-cis-ready"
)

func sha256File(t testing.TB, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func shortKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s\n", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// commandEnv is the environment of a command the tests run. One run in
// the image (chroot) gets TMPDIR=/tmp: a temporary directory set for the
// tests on the host does not exist inside the image, and the packages'
// maintainer scripts fail on it.
func commandEnv(name string) []string {
	env := append(os.Environ(), "DEBIAN_FRONTEND=noninteractive", "LC_ALL=C")
	if name == "chroot" {
		env = append(env, "TMPDIR=/tmp")
	}
	return env
}

// run runs a command, failing the test with the end of its output.
func run(t testing.TB, timeout time.Duration, okCodes []int, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = commandEnv(name)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok && slices.Contains(okCodes, ee.ExitCode()) {
			return
		}
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, testimage.Tail(out, 4000))
	}
}

// removeStale deletes earlier cache directories of the same kind.
func removeStale(t testing.TB, prefix, keep string) {
	old, _ := filepath.Glob(filepath.Join(cacheBase, prefix+"*"))
	for _, d := range old {
		if d == keep || strings.HasPrefix(d, keep+".") {
			continue
		}
		fi, err := os.Stat(d)
		switch {
		case err != nil:
		case fi.IsDir():
			t.Logf("removing an outdated cache %s", d)
			os.RemoveAll(d)
		case strings.HasSuffix(d, ".lock"):
			os.Remove(d)
		}
	}
}

// withResolvConf runs fn with the host's resolv.conf in the image, so
// the image's apt reaches the mirror, and puts the image's own back.
func withResolvConf(t testing.TB, root string, fn func()) {
	t.Helper()
	path := filepath.Join(root, "etc", "resolv.conf")
	saved := path + ".steward-saved"
	hadOwn := os.Rename(path, saved) == nil
	data, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		t.Fatalf("the image's apt needs the host's /etc/resolv.conf: %v", err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	defer func() {
		os.Remove(path)
		if hadOwn {
			os.Rename(saved, path)
		}
	}()
	fn()
}

// aptInstall installs packages into the image with its own apt, updating
// the package lists once if they are too old to have them.
func aptInstall(t testing.TB, root string, pkgs []string) {
	t.Helper()
	if len(pkgs) == 0 {
		return
	}
	args := append([]string{root, "apt-get", "install", "-y", "--no-install-recommends"}, pkgs...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "chroot", args...)
	cmd.Env = commandEnv("chroot")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Logf("apt-get install failed (%v), updating the image's package lists and retrying:\n%s", err, testimage.Tail(out, 1500))
		run(t, 10*time.Minute, nil, "chroot", root, "apt-get", "update")
		run(t, 10*time.Minute, nil, "chroot", args...)
	}
	run(t, time.Minute, nil, "chroot", root, "apt-get", "clean")
}

// preparedImage is the debootstrap image with linux-base and
// openscap-scanner installed, built once and cached in /var/tmp.
func preparedImage(t testing.TB, dsHash string) string {
	t.Helper()
	base := testimage.DebianRoot(t)
	// A rebuilt debootstrap image (a new marker) makes a new prepared one.
	built := ""
	if fi, err := os.Stat(filepath.Join(base, testimage.CompleteMarker)); err == nil {
		built = fi.ModTime().UTC().String()
	}
	dir := filepath.Join(cacheBase, "steward-cis-oscap-image-"+shortKey(prepareVersion, dsHash, built))
	unlock := testimage.Lock(t, dir+".lock")
	defer unlock()
	if _, err := os.Stat(filepath.Join(dir, readyMarker)); err == nil {
		return dir
	}
	removeStale(t, "steward-cis-oscap-image-", dir)
	partial := dir + ".partial"
	os.RemoveAll(partial)
	os.RemoveAll(dir)
	started := time.Now()
	testimage.CopyTree(t, base, partial)
	os.Remove(filepath.Join(partial, testimage.CompleteMarker))
	withResolvConf(t, partial, func() { aptInstall(t, partial, []string{"linux-base", "openscap-scanner"}) })
	if err := os.WriteFile(filepath.Join(partial, readyMarker), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(partial, dir); err != nil {
		t.Fatal(err)
	}
	t.Logf("prepared the OpenSCAP image %s in %s (cached for later runs)", dir, time.Since(started).Round(time.Second))
	return dir
}

// imageChanges is testdata/image-changes.yaml.
type imageChanges struct {
	Packages struct {
		Install []string `yaml:"install"`
		Purge   []string `yaml:"purge"`
	} `yaml:"packages"`
	Files []fileChange `yaml:"files"`
}

type fileChange struct {
	Path    string `yaml:"path"`
	Content *string
	Edit    []struct {
		Match   string `yaml:"match"`
		Replace string `yaml:"replace"`
	} `yaml:"edit"`
	Append string `yaml:"append"`
	Mode   string `yaml:"mode"`
	UID    *int   `yaml:"uid"`
	GID    *int   `yaml:"gid"`
	Dir    bool   `yaml:"dir"`
	Absent bool   `yaml:"absent"`
}

func loadChanges(t testing.TB) (imageChanges, []byte) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "image-changes.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c imageChanges
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("testdata/image-changes.yaml: %v", err)
	}
	return c, data
}

// apply makes the changes in the image at root.
func (c imageChanges) apply(t testing.TB, root string) {
	t.Helper()
	withResolvConf(t, root, func() { aptInstall(t, root, c.Packages.Install) })
	if len(c.Packages.Purge) > 0 {
		run(t, 5*time.Minute, nil, "chroot", append([]string{root, "apt-get", "purge", "-y"}, c.Packages.Purge...)...)
	}
	for _, f := range c.Files {
		if !strings.HasPrefix(f.Path, "/") {
			t.Fatalf("image change %q: the path must be absolute", f.Path)
		}
		host := filepath.Join(root, f.Path)
		fail := func(err error) { t.Fatalf("image change %s: %v", f.Path, err) }
		if f.Absent {
			if err := os.RemoveAll(host); err != nil {
				fail(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(host), 0o755); err != nil {
			fail(err)
		}
		switch {
		case f.Dir:
			if err := os.MkdirAll(host, 0o755); err != nil {
				fail(err)
			}
		case f.Content != nil:
			if err := os.WriteFile(host, []byte(*f.Content), 0o644); err != nil {
				fail(err)
			}
		case len(f.Edit) > 0 || f.Append != "":
			data, err := os.ReadFile(host)
			if err != nil {
				fail(err)
			}
			lines := strings.SplitAfter(string(data), "\n")
			for _, e := range f.Edit {
				re, err := regexp.Compile(e.Match)
				if err != nil {
					fail(err)
				}
				n := 0
				for i, l := range lines {
					if re.MatchString(strings.TrimSuffix(l, "\n")) {
						lines[i], n = e.Replace+"\n", n+1
					}
				}
				if n == 0 {
					fail(fmt.Errorf("edit %q matches no line", e.Match))
				}
			}
			if err := os.WriteFile(host, []byte(strings.Join(lines, "")+f.Append), 0); err != nil {
				fail(err)
			}
		default:
			if _, err := os.Lstat(host); err != nil {
				fail(err)
			}
		}
		if f.UID != nil || f.GID != nil {
			uid, gid := -1, -1
			if f.UID != nil {
				uid = *f.UID
			}
			if f.GID != nil {
				gid = *f.GID
			}
			if err := os.Lchown(host, uid, gid); err != nil {
				fail(err)
			}
		}
		if f.Mode != "" {
			m, err := strconv.ParseUint(f.Mode, 8, 32)
			if err != nil || m > 0o777 {
				fail(fmt.Errorf("mode %q: want octal permissions such as \"0640\"", f.Mode))
			}
			if err := os.Chmod(host, os.FileMode(m)); err != nil {
				fail(err)
			}
		}
	}
}

// scannedImage is a copy of the prepared image with changes applied
// (none for the image as installed) and OpenSCAP's verdicts on it (rule id
// -> result), cached in /var/tmp keyed by the prepared image, the changes,
// the datastream and the scan steps, so later runs skip the copy, the
// install and the scan.
func scannedImage(t testing.TB, dsXZ, variant string, changes imageChanges, changesText []byte) (root string, verdicts map[string]string) {
	t.Helper()
	dsHash := sha256File(t, dsXZ)
	prepared := preparedImage(t, dsHash)
	prefix := "steward-cis-oscap-scan-" + variant + "-"
	dir := filepath.Join(cacheBase, prefix+shortKey(prepared, string(changesText), dsHash, scanVersion))
	unlock := testimage.Lock(t, dir+".lock")
	defer unlock()
	root, tsv := filepath.Join(dir, "image"), filepath.Join(dir, "results.tsv")
	if _, err := os.Stat(filepath.Join(dir, readyMarker)); err == nil {
		t.Logf("using the cached image and OpenSCAP results in %s", dir)
		return root, readVerdicts(t, tsv)
	}
	removeStale(t, prefix, dir)
	partial := dir + ".partial"
	os.RemoveAll(partial)
	os.RemoveAll(dir)
	if err := os.MkdirAll(partial, 0o755); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	img := filepath.Join(partial, "image")
	testimage.CopyTree(t, prepared, img)
	os.Remove(filepath.Join(img, readyMarker))
	changes.apply(t, img)
	t.Logf("copied the image and applied the changes in %s", time.Since(started).Round(time.Second))

	// The datastream goes into the image's /tmp for the scan, and out again.
	ds := filepath.Join(img, "tmp", "ssg-debian12-ds.xml")
	out, err := os.Create(ds)
	if err != nil {
		t.Fatal(err)
	}
	xz := exec.Command("xz", "-dc", dsXZ)
	xz.Stdout = out
	if err := xz.Run(); err != nil {
		t.Fatalf("decompress %s with xz (apt-get install xz-utils): %v", dsXZ, err)
	}
	out.Close()
	scanStarted := time.Now()
	// oscap exits 2 when a rule fails: that is a result, not an error.
	run(t, 15*time.Minute, []int{2}, "chroot", img, "oscap", "xccdf", "eval", "--profile", profileID,
		"--results", "/tmp/results.xml", "/tmp/ssg-debian12-ds.xml")
	t.Logf("OpenSCAP scanned the image in %s", time.Since(scanStarted).Round(time.Second))
	results := filepath.Join(partial, "results.xml")
	if err := os.Rename(filepath.Join(img, "tmp", "results.xml"), results); err != nil {
		t.Fatal(err)
	}
	os.Remove(ds)
	verdicts = parseResults(t, results)
	var b strings.Builder
	ids := make([]string, 0, len(verdicts))
	for id := range verdicts {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		fmt.Fprintf(&b, "%s\t%s\n", id, verdicts[id])
	}
	if err := os.WriteFile(filepath.Join(partial, "results.tsv"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(partial, readyMarker), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(partial, dir); err != nil {
		t.Fatal(err)
	}
	return root, verdicts
}

// parseResults reads each rule's result from an XCCDF results file.
func parseResults(t testing.TB, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := xml.NewDecoder(bufio.NewReader(f))
	out := map[string]string{}
	var rule string
	var inResult bool
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			switch e.Name.Local {
			case "rule-result":
				for _, a := range e.Attr {
					if a.Name.Local == "idref" {
						rule = strings.TrimPrefix(a.Value, rulePrefix)
					}
				}
			case "result":
				inResult = rule != ""
			}
		case xml.CharData:
			if inResult {
				out[rule] += strings.TrimSpace(string(e))
			}
		case xml.EndElement:
			switch e.Name.Local {
			case "result":
				inResult = false
			case "rule-result":
				rule = ""
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s holds no rule results", path)
	}
	return out
}

func readVerdicts(t testing.TB, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if id, v, ok := strings.Cut(l, "\t"); ok {
			out[id] = v
		}
	}
	return out
}

// stewardVerdict spells a Steward status as OpenSCAP does.
func stewardVerdict(s policy.Status) string {
	if s == policy.StatusNotApplicable {
		return "notapplicable"
	}
	return string(s)
}

// comparable reports whether an OpenSCAP result is a verdict to compare
// (error, unknown, notchecked and the like are not).
func comparable(v string) bool {
	return v == "pass" || v == "fail" || v == "notapplicable"
}

// scan is one image both tools assessed.
type scan struct {
	name    string // "as installed" or "hardened"
	oscap   map[string]string
	results map[string]policy.Result // by policy id
}

// tally counts rules by area.
type tally map[string]int

func (m tally) sum() int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// imageTally is what the comparison found on one image.
type imageTally struct {
	compared, agree, recorded, noVerdict tally
}

// comparison is the outcome of comparing Steward with OpenSCAP.
type comparison struct {
	cov   coverage
	scans []scan
	per   []imageTally
	// Rows for the failure tables: image, rule, policy, steward, openscap, note.
	unrecorded, stale [][]string
}

// compare matches each policy's verdict with OpenSCAP's on every scanned
// image. A known difference covers a disagreement on any image whose
// verdicts it names; it is stale when it covers none.
func compare(cov coverage, scans []scan, known map[string]difference) comparison {
	c := comparison{cov: cov, scans: scans}
	used := map[string]bool{}
	covered := map[string]bool{}
	for _, sc := range scans {
		it := imageTally{compared: tally{}, agree: tally{}, recorded: tally{}, noVerdict: tally{}}
		for _, p := range cov.policies {
			res := sc.results[p.ID]
			st := stewardVerdict(res.Status)
			area := cov.area[p.ID]
			for _, rule := range p.References["ssg"] {
				covered[rule] = true
				osc, ok := sc.oscap[rule]
				if !ok {
					osc = "(none)"
				}
				if !comparable(osc) {
					it.noVerdict[area]++
					continue
				}
				it.compared[area]++
				if st == osc {
					it.agree[area]++
					continue
				}
				kd, listed := known[rule]
				if listed && kd.Steward == st && kd.OpenSCAP == osc {
					it.recorded[area]++
					used[rule] = true
					continue
				}
				note := res.Error
				if listed {
					note = fmt.Sprintf("recorded as steward %s / openscap %s in known-differences-%s.yaml", kd.Steward, kd.OpenSCAP, kd.area)
				}
				c.unrecorded = append(c.unrecorded, []string{sc.name, rule, p.ID, st, osc, note})
			}
		}
		c.per = append(c.per, it)
	}
	for rule, kd := range known {
		if used[rule] {
			continue
		}
		var seen []string
		for _, sc := range scans {
			for _, p := range cov.byRule[rule] {
				seen = append(seen, fmt.Sprintf("%s: steward %s / openscap %s", sc.name, stewardVerdict(sc.results[p].Status), orNone(sc.oscap[rule])))
			}
		}
		note := "now " + strings.Join(seen, "; ")
		if !covered[rule] {
			note = "no policy covers this rule"
		}
		c.stale = append(c.stale, []string{"known-differences-" + kd.area + ".yaml", rule, strings.Join(cov.byRule[rule], ","), kd.Steward, kd.OpenSCAP, note})
	}
	order := func(a, b []string) int {
		if n := strings.Compare(a[1], b[1]); n != 0 {
			return n
		}
		return strings.Compare(a[0], b[0])
	}
	slices.SortFunc(c.unrecorded, order)
	slices.SortFunc(c.stale, order)
	return c
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func table(head string, rows [][]string) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, head)
	for _, r := range rows {
		fmt.Fprintln(w, strings.Join(r, "\t"))
	}
	w.Flush()
	return b.String()
}

// TestCISAgreesWithOpenSCAP runs OpenSCAP (inside the image) and the
// whole pack (in process, as `steward-agent check --root` does) on the
// same Debian 12 image, as installed and hardened with the changes in
// testdata/image-changes.yaml, and compares them rule by rule. It fails on
// a disagreement not recorded in the pack's known-differences files, on a
// recorded difference that no longer holds on either image, and when the
// coverage table in docs/policies.md no longer matches what it computes.
func TestCISAgreesWithOpenSCAP(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("the comparison builds and scans a Debian image with chroot: run the tests as root")
	}
	dsXZ := filepath.Join(referenceDir(t), "ssg-debian12-ds.xml.xz")
	changes, changesText := loadChanges(t)
	type image struct {
		name, variant string
		changes       imageChanges
		text          []byte
	}
	images := []image{{"as installed", "installed", imageChanges{}, nil}, {"hardened", "hardened", changes, changesText}}
	roots := make([]string, len(images))
	scans := make([]scan, len(images))
	for i, im := range images {
		roots[i], scans[i].oscap = scannedImage(t, dsXZ, im.variant, im.changes, im.text)
		scans[i].name = im.name
	}
	cov := packCoverage(t)
	known := loadKnownDifferences(t)
	t.Logf("coverage: %d of %d profile rules covered natively (%.1f %%), %d listed as not covered (TestCISCoverage checks the lists)",
		cov.covered(), len(cov.rules), cov.percent(), len(cov.notCovered))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for i, root := range roots {
		started := time.Now()
		doc := collect.Collect(ctx, collect.Config{Root: root})
		env := check.NewEnv(ctx, check.Config{Root: root}, doc)
		results := policy.EvaluateAll(ctx, cov.policies, env, 4)
		scans[i].results = map[string]policy.Result{}
		for _, r := range results { // sorted by policy id, not in load order
			scans[i].results[r.PolicyID] = r
		}
		t.Logf("Steward evaluated %d policies on the image %s in %s", len(cov.policies), scans[i].name, time.Since(started).Round(time.Millisecond))
	}

	c := compare(cov, scans, known)
	if len(c.unrecorded) > 0 {
		t.Errorf("%d disagreements with OpenSCAP are not in a known-differences file (fix the policy, or record the difference with the reason):\n%s",
			len(c.unrecorded), table("IMAGE\tRULE\tPOLICY\tSTEWARD\tOPENSCAP\tNOTE", c.unrecorded))
	}
	if len(c.stale) > 0 {
		t.Errorf("%d known-differences entries describe no disagreement on either image (remove or correct them):\n%s",
			len(c.stale), table("FILE\tRULE\tPOLICY\tSTEWARD\tOPENSCAP\tNOTE", c.stale))
	}
	for i, it := range c.per {
		t.Logf("image %s: compared %d rules: %d agree, %d recorded differences, %d without an OpenSCAP verdict",
			scans[i].name, it.compared.sum(), it.agree.sum(), it.recorded.sum(), it.noVerdict.sum())
	}

	got := cisTable(c)
	if path := os.Getenv("STEWARD_WRITE_CIS_TABLE"); path != "" {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote the coverage and agreement table to %s", path)
	}
	docPath := filepath.Join(repoRoot(t), "docs", "policies.md")
	data, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	inDoc, ok := between(string(data), tableBegin, tableEnd)
	if !ok {
		t.Fatalf("docs/policies.md has no %q ... %q block for the CIS table", tableBegin, tableEnd)
	}
	if inDoc != got {
		t.Errorf("the CIS coverage and agreement table in docs/policies.md is out of date: run this test with STEWARD_WRITE_CIS_TABLE=/tmp/cis-table.md and put the file's content between the %s and %s lines. It should be:\n%s", tableBegin, tableEnd, got)
	}
}

const (
	tableBegin = "<!-- cis-table:begin -->"
	tableEnd   = "<!-- cis-table:end -->"
)

// between is the text strictly between the begin and end marker lines.
func between(doc, begin, end string) (string, bool) {
	_, rest, ok := strings.Cut(doc, begin+"\n")
	if !ok {
		return "", false
	}
	in, _, ok := strings.Cut(rest, end)
	return in, ok
}

var spaces = regexp.MustCompile(`\s+`)

// cisTable is the coverage and agreement table docs/policies.md shows.
func cisTable(c comparison) string {
	areas := map[string]bool{}
	rules, covered, nc := tally{}, tally{}, tally{}
	for _, ids := range c.cov.byRule {
		a := c.cov.area[ids[0]]
		areas[a] = true
		rules[a]++
		covered[a]++
	}
	for _, n := range c.cov.notCovered {
		areas[n.Area] = true
		rules[n.Area]++
		nc[n.Area]++
	}
	names := make([]string, 0, len(areas))
	for a := range areas {
		names = append(names, a)
	}
	slices.Sort(names)
	both := func(pick func(imageTally) tally, area string) string {
		var parts []string
		for _, it := range c.per {
			if area == "" {
				parts = append(parts, strconv.Itoa(pick(it).sum()))
			} else {
				parts = append(parts, strconv.Itoa(pick(it)[area]))
			}
		}
		return strings.Join(parts, " / ")
	}
	compared := func(it imageTally) tally { return it.compared }
	agree := func(it imageTally) tally { return it.agree }
	recorded := func(it imageTally) tally { return it.recorded }
	noVerdict := func(it imageTally) tally { return it.noVerdict }
	var b strings.Builder
	var imgs []string
	for _, sc := range c.scans {
		imgs = append(imgs, sc.name)
	}
	fmt.Fprintf(&b, "Figures in the last four columns are for the image %s.\n\n", strings.Join(imgs, " / "))
	fmt.Fprintln(&b, "| Area (pack file) | Rules | Covered natively | Not covered | Compared with OpenSCAP | Agreeing | Recorded differences | No OpenSCAP verdict |")
	fmt.Fprintln(&b, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, a := range names {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %s | %s | %s | %s |\n", a, rules[a], covered[a], nc[a],
			both(compared, a), both(agree, a), both(recorded, a), both(noVerdict, a))
	}
	if n := len(c.cov.rules) - c.cov.covered() - len(c.cov.notCovered); n > 0 {
		fmt.Fprintf(&b, "| (neither covered nor listed yet) | %d | 0 | 0 | | | | |\n", n)
	}
	fmt.Fprintf(&b, "| **profile** | %d | %d (%.1f %%) | %d | %s | %s | %s | %s |\n", len(c.cov.rules), c.cov.covered(), c.cov.percent(), len(c.cov.notCovered),
		both(compared, ""), both(agree, ""), both(recorded, ""), both(noVerdict, ""))
	for _, sc := range c.scans {
		counts := tally{}
		for _, r := range c.cov.rules {
			v, ok := sc.oscap[r]
			if !ok {
				v = "no result"
			}
			counts[v]++
		}
		kinds := make([]string, 0, len(counts))
		for k := range counts {
			kinds = append(kinds, k)
		}
		slices.Sort(kinds)
		var parts []string
		for _, k := range kinds {
			parts = append(parts, fmt.Sprintf("%d %s", counts[k], k))
		}
		fmt.Fprintf(&b, "\nOpenSCAP on the image %s: %s.\n", sc.name, strings.Join(parts, ", "))
	}
	if len(c.cov.notCovered) > 0 {
		fmt.Fprintln(&b, "\nRules not covered natively, by area, with the reason:")
		for _, a := range names {
			var ids []string
			for id, n := range c.cov.notCovered {
				if n.Area == a {
					ids = append(ids, id)
				}
			}
			if len(ids) == 0 {
				continue
			}
			slices.Sort(ids)
			fmt.Fprintf(&b, "\n- %s:\n", a)
			for _, id := range ids {
				fmt.Fprintf(&b, "  - `%s`: %s\n", id, spaces.ReplaceAllString(c.cov.notCovered[id].Reason, " "))
			}
		}
	}
	return b.String()
}
