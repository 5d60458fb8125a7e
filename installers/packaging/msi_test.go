package packaging

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"debug/pe"
	"encoding/pem"
	"io/fs"
	"maps"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/steward-project/steward/installers/windows"
	"github.com/steward-project/steward/shared/labels"
)

// The tools the Windows tests run; scripts/test-deps.sh installs them.
var msiTools = map[string]string{
	"wixl": "wixl", "msibuild": "msitools", "msiinfo": "msitools",
	"msiextract": "msitools", "osslsigncode": "osslsigncode",
}

func requireMSITools(t *testing.T) {
	t.Helper()
	for name, pkg := range msiTools {
		if _, err := exec.LookPath(name); err != nil {
			t.Fatalf("%s not found: install it with `apt-get install -y %s` (scripts/test-deps.sh does)", name, pkg)
		}
	}
}

// crossBuildAgent builds the real steward-agent for goos/goarch into a
// temporary directory and returns its path.
func crossBuildAgent(t *testing.T, goos, goarch string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "steward-agent")
	if goos == "windows" {
		out += ".exe"
	}
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version=test",
		"-o", out, "github.com/steward-project/steward/agent/cmd/steward-agent")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=%s GOARCH=%s go build ./agent/cmd/steward-agent: %v\n%s", goos, goarch, err, b)
	}
	return out
}

// msiRun runs a command and returns its standard output.
func msiRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// msiTable reads a table with `msiinfo export`: one map per row, by
// column name.
func msiTable(t *testing.T, msi, table string) []map[string]string {
	t.Helper()
	lines := strings.Split(strings.ReplaceAll(msiRun(t, "msiinfo", "export", msi, table), "\r\n", "\n"), "\n")
	if len(lines) < 3 {
		t.Fatalf("msiinfo export %s: %q", table, lines)
	}
	cols := strings.Split(lines[0], "\t")
	var rows []map[string]string
	for _, l := range lines[3:] {
		if l == "" {
			continue
		}
		vals := strings.Split(l, "\t")
		row := map[string]string{}
		for i, c := range cols {
			if i < len(vals) {
				row[c] = vals[i]
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// msiRow returns the row whose column key equals value, failing without.
func msiRow(t *testing.T, rows []map[string]string, key, value string) map[string]string {
	t.Helper()
	for _, r := range rows {
		if r[key] == value {
			return r
		}
	}
	t.Fatalf("no row with %s = %q in %v", key, value, rows)
	return nil
}

// msiProperties reads the Property table as a map.
func msiProperties(t *testing.T, msi string) map[string]string {
	t.Helper()
	props := map[string]string{}
	for _, r := range msiTable(t, msi, "Property") {
		props[r["Property"]] = r["Value"]
	}
	return props
}

// wxsUpgradeCode is the UpgradeCode written in steward-agent.wxs.
func wxsUpgradeCode(t *testing.T) string {
	t.Helper()
	b, err := fs.ReadFile(windows.Files, "steward-agent.wxs")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`UpgradeCode="([0-9A-F-]{36})"`).FindSubmatch(b)
	if m == nil {
		t.Fatal("no UpgradeCode in steward-agent.wxs")
	}
	return "{" + string(m[1]) + "}"
}

// sequence maps a sequence table's actions to their numbers and
// conditions.
func sequence(t *testing.T, msi, table string) (map[string]int, map[string]string) {
	t.Helper()
	seq, cond := map[string]int{}, map[string]string{}
	for _, r := range msiTable(t, msi, table) {
		n, err := strconv.Atoi(r["Sequence"])
		if err != nil {
			t.Fatalf("%s: action %s has sequence %q", table, r["Action"], r["Sequence"])
		}
		seq[r["Action"]], cond[r["Action"]] = n, r["Condition"]
	}
	return seq, cond
}

// inOrder fails unless every action is present and they run in the
// given order.
func inOrder(t *testing.T, table string, seq map[string]int, actions ...string) {
	t.Helper()
	for i, a := range actions {
		if _, ok := seq[a]; !ok {
			t.Errorf("%s: no action %s", table, a)
			return
		}
		if i > 0 && seq[actions[i-1]] >= seq[a] {
			t.Errorf("%s: %s (%d) must come before %s (%d)", table, actions[i-1], seq[actions[i-1]], a, seq[a])
		}
	}
}

func TestMSI(t *testing.T) {
	requireMSITools(t)
	exe := crossBuildAgent(t, "windows", "amd64")
	exeBytes, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	ca := testCA(t)
	out := t.TempDir()

	plain, err := MSI(Options{Version: "1.2.0", Arch: "amd64", Binary: exe, OutDir: out})
	if err != nil {
		t.Fatal(err)
	}
	secret := strings.Repeat("5e", 32)
	configured, err := MSI(Options{Version: "1.3.0~rc.1", Arch: "amd64", Binary: exe, OutDir: out,
		Enroll: &Enrollment{Server: "https://steward.example.com:8443", EnrollSecret: secret, CAFile: ca, Labels: msiTestLabels}})
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(plain) != "steward-agent-1.2.0-windows-amd64.msi" || filepath.Base(configured) != "steward-agent-1.3.0~rc.1-windows-amd64.msi" {
		t.Errorf("file names %s, %s", filepath.Base(plain), filepath.Base(configured))
	}
	for path, want := range map[string]os.FileMode{plain: 0o644, configured: 0o600} {
		if m := fileMode(t, path); m != want {
			t.Errorf("%s: mode %v, want %v (a configured MSI holds the secret)", filepath.Base(path), m, want)
		}
	}

	t.Run("summary", func(t *testing.T) {
		info := msiRun(t, "msiinfo", "suminfo", plain)
		// x64 package: Windows Installer refuses it on 32-bit Windows
		// and resolves ProgramFiles64Folder to C:\Program Files.
		if !strings.Contains(info, "Template: x64;1033") {
			t.Errorf("summary information is not an x64 package:\n%s", info)
		}
		if !strings.Contains(info, "Version: 500") {
			t.Errorf("summary information does not ask for Windows Installer 5.0:\n%s", info)
		}
	})

	t.Run("tables", func(t *testing.T) {
		tables := strings.Fields(msiRun(t, "msiinfo", "tables", plain))
		sort.Strings(tables)
		for _, want := range []string{"AppSearch", "Component", "CustomAction", "DrLocator", "File", "InstallExecuteSequence",
			"MsiLockPermissionsEx", "MsiServiceConfig", "MsiServiceConfigFailureActions", "Property", "ServiceControl",
			"ServiceInstall", "Signature", "Upgrade"} {
			if i := sort.SearchStrings(tables, want); i == len(tables) || tables[i] != want {
				t.Errorf("no %s table in %v", want, tables)
			}
		}
	})

	t.Run("files and components", func(t *testing.T) {
		files := msiTable(t, plain, "File")
		agent := msiRow(t, files, "FileName", "steward-agent.exe")
		if agent["Component_"] != "AgentExe" || agent["FileSize"] != strconv.Itoa(len(exeBytes)) {
			t.Errorf("steward-agent.exe row %v, want component AgentExe and size %d", agent, len(exeBytes))
		}
		msiRow(t, files, "FileName", "steward-msi-config.exe")
		msiRow(t, files, "FileName", "agent.yaml.template")
		if len(files) != 3 {
			t.Errorf("unconfigured MSI has %d files, want 3: %v", len(files), files)
		}
		msiRow(t, msiTable(t, configured, "File"), "FileName", "server-ca.pem")

		comps := msiTable(t, plain, "Component")
		c := msiRow(t, comps, "Component", "AgentExe")
		attr, _ := strconv.Atoi(c["Attributes"])
		if c["Directory_"] != "INSTALLDIR" || c["KeyPath"] != "AgentExe" || attr&256 == 0 {
			t.Errorf("AgentExe component %v: want INSTALLDIR, key path the exe, 64-bit (256)", c)
		}
		start := msiRow(t, comps, "Component", "AgentStart")
		if start["Condition"] != "STEWARD_SERVER OR STEWARD_CONFIG_FOUND" {
			t.Errorf("AgentStart condition %q", start["Condition"])
		}
		dirs := msiTable(t, plain, "Directory")
		if d := msiRow(t, dirs, "Directory", "INSTALLDIR"); d["Directory_Parent"] != "ProgramFiles64Folder" || d["DefaultDir"] != "Steward" {
			t.Errorf("INSTALLDIR %v, want ProgramFiles64Folder\\Steward", d)
		}
		if d := msiRow(t, dirs, "Directory", "DATADIR"); d["Directory_Parent"] != "CommonAppDataFolder" || d["DefaultDir"] != "Steward" {
			t.Errorf("DATADIR %v, want CommonAppDataFolder\\Steward", d)
		}
	})

	t.Run("service", func(t *testing.T) {
		si := msiRow(t, msiTable(t, plain, "ServiceInstall"), "Name", "steward-agent")
		want := map[string]string{
			"ServiceType":  "16", // own process
			"StartType":    "2",  // automatic
			"ErrorControl": "1",  // normal
			"StartName":    "LocalSystem",
			"Arguments":    `run --config "[CommonAppDataFolder]Steward\agent.yaml"`,
			"Component_":   "AgentExe",
		}
		for k, v := range want {
			if si[k] != v {
				t.Errorf("ServiceInstall %s = %q, want %q", k, si[k], v)
			}
		}
		sc := msiTable(t, plain, "ServiceControl")
		stop := msiRow(t, sc, "ServiceControl", "AgentServiceStopRemove")
		// 2 stop on install (upgrade, repair), 32 stop on uninstall,
		// 128 delete on uninstall.
		if stop["Name"] != "steward-agent" || stop["Event"] != strconv.Itoa(2|32|128) || stop["Component_"] != "AgentExe" {
			t.Errorf("stop/remove control %v", stop)
		}
		start := msiRow(t, sc, "ServiceControl", "AgentServiceStart")
		if start["Name"] != "steward-agent" || start["Event"] != "1" || start["Component_"] != "AgentStart" {
			t.Errorf("start control %v", start)
		}
		fa := msiRow(t, msiTable(t, plain, "MsiServiceConfigFailureActions"), "Name", "steward-agent")
		if fa["Actions"] != "1[~]1[~]1" || fa["DelayActions"] != "5000[~]15000[~]60000" || fa["ResetPeriod"] != "86400" {
			t.Errorf("recovery %v, want three restarts", fa)
		}
		types := map[string]string{}
		for _, r := range msiTable(t, plain, "MsiServiceConfig") {
			types[r["ConfigType"]] = r["Argument"]
		}
		if types["3"] != "1" || types["4"] != "1" {
			t.Errorf("MsiServiceConfig %v: want delayed auto-start (3) and failure actions on errors (4)", types)
		}
		reg := map[string]string{}
		for _, r := range msiTable(t, plain, "Registry") {
			if r["Root"] != "2" || r["Key"] != `SYSTEM\CurrentControlSet\Services\EventLog\Application\steward-agent` {
				t.Errorf("unexpected registry value %v", r)
			}
			reg[r["Name"]] = r["Value"]
		}
		if want := map[string]string{"TypesSupported": "#7", "CustomSource": "#1", "EventMessageFile": "[System64Folder]EventCreate.exe"}; !reflect.DeepEqual(reg, want) {
			t.Errorf("event log source %v, want %v", reg, want)
		}
		lock := msiRow(t, msiTable(t, plain, "MsiLockPermissionsEx"), "LockObject", "DATADIR")
		if lock["Table"] != "CreateFolder" || lock["SDDLText"] != "D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)" {
			t.Errorf("data folder ACL %v", lock)
		}
	})

	t.Run("properties", func(t *testing.T) {
		p := msiProperties(t, plain)
		for _, name := range []string{"STEWARD_SERVER", "ENROLL_SECRET", "CA_FILE", "STEWARD_LABELS"} {
			if _, ok := p[name]; ok {
				t.Errorf("unconfigured MSI sets a default for %s", name)
			}
			if !strings.Contains(";"+p["SecureCustomProperties"]+";", ";"+name+";") {
				t.Errorf("SecureCustomProperties %q lacks %s", p["SecureCustomProperties"], name)
			}
		}
		if p["MsiHiddenProperties"] != "ENROLL_SECRET" || p["ProductVersion"] != "1.2.0" || p["ALLUSERS"] != "1" {
			t.Errorf("properties %v", p)
		}
		c := msiProperties(t, configured)
		if c["STEWARD_SERVER"] != "https://steward.example.com:8443" || c["ENROLL_SECRET"] != secret ||
			c["CA_FILE"] != "server-ca.pem" || c["ProductVersion"] != "1.3.0" {
			t.Errorf("configured properties %v", c)
		}
		// The labels' default reads back, as steward-msi-config parses
		// it, to the package's labels.
		if got, err := labels.Parse(c["STEWARD_LABELS"]); err != nil || !maps.Equal(got, msiTestLabels) {
			t.Errorf("STEWARD_LABELS = %q (%v), want %v", c["STEWARD_LABELS"], err, msiTestLabels)
		}
		if !strings.Contains(";"+c["SecureCustomProperties"]+";", ";STEWARD_LABELS;") {
			t.Errorf("SecureCustomProperties %q lacks STEWARD_LABELS", c["SecureCustomProperties"])
		}
	})

	t.Run("configuration step", func(t *testing.T) {
		ca := msiRow(t, msiTable(t, plain, "CustomAction"), "Action", "WriteAgentConfig")
		typ, _ := strconv.Atoi(ca["Type"])
		// 18: run an installed file; 1024 deferred; 2048 as LocalSystem;
		// 8192 keep the command line out of the log.
		if typ&0x3f != 18 || typ&1024 == 0 || typ&2048 == 0 || typ&8192 == 0 || ca["Source"] != "ConfigHelperExe" {
			t.Errorf("WriteAgentConfig %v (type %d)", ca, typ)
		}
		for _, prop := range []string{`--server "[STEWARD_SERVER]"`, `--enroll-secret "[ENROLL_SECRET]"`, `--ca-file "[CA_FILE]"`,
			`--labels "[STEWARD_LABELS]"`, `--config "[CommonAppDataFolder]Steward\agent.yaml"`, `--template "[INSTALLDIR]agent.yaml.template"`} {
			if !strings.Contains(ca["Target"], prop) {
				t.Errorf("WriteAgentConfig command line %q lacks %s", ca["Target"], prop)
			}
		}
		seq, cond := sequence(t, plain, "InstallExecuteSequence")
		inOrder(t, "InstallExecuteSequence", seq, "FindRelatedProducts", "AppSearch", "CostFinalize", "InstallValidate",
			"RemoveExistingProducts", "InstallInitialize", "StopServices", "DeleteServices", "RemoveAgentData", "RemoveFiles",
			"CreateFolders", "InstallFiles", "WriteAgentConfig", "InstallServices", "MsiConfigureServices", "StartServices", "InstallFinalize")
		if cond["WriteAgentConfig"] != `NOT REMOVE="ALL"` || cond["RemoveAgentData"] != `REMOVE="ALL" AND NOT UPGRADINGPRODUCTCODE` {
			t.Errorf("conditions %q, %q", cond["WriteAgentConfig"], cond["RemoveAgentData"])
		}
		ui, _ := sequence(t, plain, "InstallUISequence")
		inOrder(t, "InstallUISequence", ui, "FindRelatedProducts", "AppSearch", "CostFinalize", "ExecuteAction")
		search := msiRow(t, msiTable(t, plain, "AppSearch"), "Property", "STEWARD_CONFIG_FOUND")
		loc := msiRow(t, msiTable(t, plain, "DrLocator"), "Signature_", search["Signature_"])
		sig := msiRow(t, msiTable(t, plain, "Signature"), "Signature", search["Signature_"])
		if loc["Path"] != `[CommonAppDataFolder]Steward` || !strings.HasSuffix(sig["FileName"], "|agent.yaml") {
			t.Errorf("config search %v %v", loc, sig)
		}
	})

	t.Run("upgrade", func(t *testing.T) {
		p, c := msiProperties(t, plain), msiProperties(t, configured)
		code := wxsUpgradeCode(t)
		if p["UpgradeCode"] != code || c["UpgradeCode"] != code {
			t.Errorf("UpgradeCode %s and %s, want %s in both builds", p["UpgradeCode"], c["UpgradeCode"], code)
		}
		if p["ProductCode"] == c["ProductCode"] || p["ProductCode"] == "" {
			t.Errorf("two builds share the ProductCode %s: they would not upgrade", p["ProductCode"])
		}
		// A third build of the same version gets its own ProductCode too.
		again, err := MSI(Options{Version: "1.2.0", Arch: "amd64", Binary: exe, OutDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		if a := msiProperties(t, again); a["UpgradeCode"] != code || a["ProductCode"] == p["ProductCode"] {
			t.Errorf("rebuild: UpgradeCode %s ProductCode %s", a["UpgradeCode"], a["ProductCode"])
		}
		type upg struct{ min, max, attr string }
		got := map[string][]upg{}
		for _, r := range msiTable(t, configured, "Upgrade") {
			if r["UpgradeCode"] != code {
				t.Errorf("Upgrade row for another UpgradeCode: %v", r)
			}
			got[r["ActionProperty"]] = append(got[r["ActionProperty"]], upg{r["VersionMin"], r["VersionMax"], r["Attributes"]})
		}
		up := got["WIX_UPGRADE_DETECTED"]
		sort.Slice(up, func(i, j int) bool { return up[i].min < up[j].min })
		// Older versions (maximum exclusive), and this very version.
		if len(up) != 2 || up[0] != (upg{"", "1.3.0", "1"}) || up[1] != (upg{"1.3.0", "1.3.0", "769"}) {
			t.Errorf("upgrade rows %v", up)
		}
		// Newer versions are only detected, to refuse the downgrade.
		if down := got["WIX_DOWNGRADE_DETECTED"]; len(down) != 1 || down[0] != (upg{"1.3.0", "", "2"}) {
			t.Errorf("downgrade rows %v", down)
		}
		msiRow(t, msiTable(t, configured, "LaunchCondition"), "Condition", "NOT WIX_DOWNGRADE_DETECTED")
	})

	t.Run("extract", func(t *testing.T) {
		for _, msi := range []string{plain, configured} {
			dir := t.TempDir()
			msiRun(t, "msiextract", "-C", dir, msi)
			got, err := os.ReadFile(filepath.Join(dir, "Steward", "steward-agent.exe"))
			if err != nil || !bytes.Equal(got, exeBytes) {
				t.Errorf("%s: extracted steward-agent.exe differs from the build (%v)", filepath.Base(msi), err)
			}
			f, err := pe.Open(filepath.Join(dir, "Steward", "steward-msi-config.exe"))
			if err != nil {
				t.Errorf("steward-msi-config.exe: %v", err)
			} else {
				if f.Machine != pe.IMAGE_FILE_MACHINE_AMD64 {
					t.Errorf("steward-msi-config.exe machine %#x", f.Machine)
				}
				f.Close()
			}
			tmpl, err := os.ReadFile(filepath.Join(dir, "Steward", "agent.yaml.template"))
			want, _ := fs.ReadFile(windows.Files, "agent.yaml.template")
			if err != nil || !bytes.Equal(tmpl, want) {
				t.Errorf("agent.yaml.template differs from installers/windows (%v)", err)
			}
			for _, ph := range []string{`server: "[STEWARD_SERVER]"`, `enroll_secret_file: "[ENROLL_SECRET]"`, `ca_file: "[CA_FILE]"`, `labels: "[STEWARD_LABELS]"`} {
				if !bytes.Contains(tmpl, []byte(ph)) {
					t.Errorf("the template lacks %s", ph)
				}
			}
		}
		dir := t.TempDir()
		msiRun(t, "msiextract", "-C", dir, configured)
		if got, _ := os.ReadFile(filepath.Join(dir, "Steward", "server-ca.pem")); !bytes.Equal(got, ca) {
			t.Error("server-ca.pem differs from the enrollment's CA")
		}
	})

	t.Run("property table round trip", func(t *testing.T) {
		dir := t.TempDir()
		idt := filepath.Join(dir, "Property.idt")
		exported := msiRun(t, "msiinfo", "export", configured, "Property")
		os.WriteFile(idt, []byte(exported), 0o644)
		copyPath := filepath.Join(dir, "copy.msi")
		b, _ := os.ReadFile(configured)
		os.WriteFile(copyPath, b, 0o644)
		msiRun(t, "msibuild", copyPath, "-i", idt)
		if again := msiRun(t, "msiinfo", "export", copyPath, "Property"); again != exported {
			t.Errorf("Property table changed on export and import:\n%s\nvs\n%s", exported, again)
		}
		// The import does change the database: a new default goes in
		// and comes out again.
		changed := strings.Replace(exported, "https://steward.example.com:8443", "https://other.example.com", 1)
		os.WriteFile(idt, []byte(changed), 0o644)
		msiRun(t, "msibuild", copyPath, "-i", idt)
		if p := msiProperties(t, copyPath); p["STEWARD_SERVER"] != "https://other.example.com" || p["ENROLL_SECRET"] != secret {
			t.Errorf("after import: %v", p)
		}
	})
}

// msiTestLabels are the configured MSI's labels: XML and YAML
// metacharacters, '=' and a backslash inside a value.
var msiTestLabels = map[string]string{"team": "web", "site/room": `b <2> & 'east' \ x=y`, "empty": ""}

func TestMSIRefuses(t *testing.T) {
	self, err := os.Executable() // a Linux binary
	if err != nil {
		t.Fatal(err)
	}
	// A small windows/amd64 executable, for the checks after the
	// binary's.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644)
	exe := filepath.Join(dir, "stub.exe")
	cmd := exec.Command("go", "build", "-o", exe, "main.go")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=windows", "GOARCH=amd64", "GO111MODULE=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build a windows stub: %v\n%s", err, b)
	}
	out := t.TempDir()
	enroll := func(server, secret string, labels map[string]string) *Enrollment {
		return &Enrollment{Server: server, EnrollSecret: secret, Labels: labels}
	}
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"arm64", Options{Version: "1.0.0", Arch: "arm64", Binary: exe, OutDir: out}, "only amd64"},
		{"linux binary", Options{Version: "1.0.0", Arch: "amd64", Binary: self, OutDir: out}, "not a Windows executable"},
		{"version too big", Options{Version: "256.0.0", Arch: "amd64", Binary: exe, OutDir: out}, "0 to 255"},
		{"invalid label", Options{Version: "1.0.0", Arch: "amd64", Binary: exe, OutDir: out,
			Enroll: enroll("https://s", "x", map[string]string{"my team": "web"})}, "label key"},
		{"quoted label", Options{Version: "1.0.0", Arch: "amd64", Binary: exe, OutDir: out,
			Enroll: enroll("https://s", "x", map[string]string{"team": `a"b`})}, "double quotes"},
		{"label with a comma", Options{Version: "1.0.0", Arch: "amd64", Binary: exe, OutDir: out,
			Enroll: enroll("https://s", "x", map[string]string{"team": "a,b"})}, "commas"},
		{"label ending in a space", Options{Version: "1.0.0", Arch: "amd64", Binary: exe, OutDir: out,
			Enroll: enroll("https://s", "x", map[string]string{"team": "a "})}, "ending in spaces"},
		{"label ending in a backslash", Options{Version: "1.0.0", Arch: "amd64", Binary: exe, OutDir: out,
			Enroll: enroll("https://s", "x", map[string]string{"z": `a\`})}, "backslash"},
		{"quoted secret", Options{Version: "1.0.0", Arch: "amd64", Binary: exe, OutDir: out,
			Enroll: enroll("https://s", `a"b`, nil)}, "double quotes"},
		{"secret ending a define", Options{Version: "1.0.0", Arch: "amd64", Binary: exe, OutDir: out,
			Enroll: enroll("https://s", "a?>b", nil)}, "?>"},
		{"server ending a define", Options{Version: "1.0.0", Arch: "amd64", Binary: exe, OutDir: out,
			Enroll: enroll("https://s/?>", "x", nil)}, "?>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := MSI(tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one saying %q", err, tc.want)
			}
		})
	}
	if entries, _ := os.ReadDir(out); len(entries) > 0 {
		t.Errorf("refused builds wrote %v", entries)
	}
}

// TestMSIConfigExeLookup checks where MSI takes steward-msi-config.exe
// from, by giving it files that are not Windows executables.
func TestMSIConfigExeLookup(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "out.exe")
	dir := t.TempDir()
	agent := filepath.Join(dir, "steward-agent.exe")
	beside := filepath.Join(dir, "steward-msi-config.exe")
	os.WriteFile(beside, []byte("not a program"), 0o755)
	if err := msiConfigExe(dst, agent); err == nil || !strings.Contains(err.Error(), "not a Windows executable") {
		t.Errorf("the helper beside the agent was not used: %v", err)
	}
	// Binaries named as make packages names them in dist/: the helper of
	// the same version and platform comes first.
	dist := t.TempDir()
	distAgent := filepath.Join(dist, "steward-agent_1.2.0_windows_amd64.exe")
	distHelper := filepath.Join(dist, "steward-msi-config_1.2.0_windows_amd64.exe")
	os.WriteFile(distHelper, []byte("not a program"), 0o755)
	os.WriteFile(filepath.Join(dist, "steward-msi-config.exe"), []byte("neither"), 0o755)
	if err := msiConfigExe(dst, distAgent); err == nil || !strings.Contains(err.Error(), distHelper) {
		t.Errorf("the helper named like the agent was not used: %v", err)
	}
	named := filepath.Join(t.TempDir(), "named.exe")
	os.WriteFile(named, []byte("MZ but no more"), 0o755)
	t.Setenv("STEWARD_MSI_CONFIG_EXE", named)
	if err := msiConfigExe(dst, agent); err == nil || !strings.Contains(err.Error(), named) {
		t.Errorf("STEWARD_MSI_CONFIG_EXE was not used: %v", err)
	}
	// Neither: built from installers/windows/msiconfig.
	t.Setenv("STEWARD_MSI_CONFIG_EXE", "")
	os.Remove(beside)
	if err := msiConfigExe(dst, agent); err != nil {
		t.Fatal(err)
	}
	if err := checkPE(dst); err != nil {
		t.Error(err)
	}
}

func TestMSIProductVersion(t *testing.T) {
	for in, want := range map[string]string{
		"1.2.0": "1.2.0", "1.2": "1.2.0", "1": "1.0.0", "1.2.3.4": "1.2.3.4",
		"1.2.0~rc.1": "1.2.0", "1.2.0+git3.1a2b3c4": "1.2.0", "0.0.0~git42.1a2b3c4": "0.0.0",
		"255.255.65535": "255.255.65535",
	} {
		if got, err := msiProductVersion(in); err != nil || got != want {
			t.Errorf("msiProductVersion(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "v1.2.0", "256.0.0", "1.256.0", "1.2.65536", "1.2.3.4.5", "01.2.3", "1..2", "x"} {
		if got, err := msiProductVersion(bad); err == nil {
			t.Errorf("msiProductVersion(%q) = %q, want an error", bad, got)
		}
	}
}

func TestTablesSQL(t *testing.T) {
	b, err := fs.ReadFile(windows.Files, "tables.sql")
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlStatements(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) < 10 {
		t.Fatalf("%d statements in tables.sql", len(st))
	}
	for _, s := range st {
		if strings.Contains(s, "--") || strings.HasSuffix(s, ";") {
			t.Errorf("statement kept a comment or its ';': %s", s)
		}
	}
	// The same-version upgrade row must use the .wxs's UpgradeCode.
	if !bytes.Contains(b, []byte("'"+wxsUpgradeCode(t)+"'")) {
		t.Errorf("tables.sql does not use the UpgradeCode of steward-agent.wxs (%s)", wxsUpgradeCode(t))
	}
	if _, err := sqlStatements([]byte("UPDATE x\n")); err == nil {
		t.Error("an unterminated statement was accepted")
	}
}

// signingCert writes a self-signed code-signing certificate and its key
// (PEM) into dir.
func signingCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "Steward Test Code Signing"},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "sign.crt"), filepath.Join(dir, "sign.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600)
	return certFile, keyFile
}

// verify runs osslsigncode verify and returns its output and whether it
// succeeded.
func verify(t *testing.T, file string, extra ...string) (string, bool) {
	t.Helper()
	out, err := exec.Command("osslsigncode", append([]string{"verify", "-in", file}, extra...)...).CombinedOutput()
	return string(out), err == nil
}

func TestMSISigned(t *testing.T) {
	requireMSITools(t)
	exe := crossBuildAgent(t, "windows", "amd64")
	dir := t.TempDir()
	cert, key := signingCert(t, dir)
	t.Setenv("STEWARD_SIGN_CERT", cert)
	t.Setenv("STEWARD_SIGN_KEY", key)
	msi, err := MSI(Options{Version: "1.2.0", Arch: "amd64", Binary: exe, OutDir: dir})
	if err != nil {
		t.Fatal(err)
	}

	// Against the system's roots the self-signed certificate is not
	// trusted, but the signature itself must still match the content.
	out, ok := verify(t, msi)
	if ok || !strings.Contains(out, "self-signed certificate") {
		t.Errorf("verify against the system roots: ok=%v, want a failure for the untrusted root:\n%s", ok, out)
	}
	cur := regexp.MustCompile(`Current DigitalSignature\s*:\s*([0-9A-F]+)`).FindStringSubmatch(out)
	calc := regexp.MustCompile(`Calculated DigitalSignature\s*:\s*([0-9A-F]+)`).FindStringSubmatch(out)
	if cur == nil || calc == nil || cur[1] != calc[1] {
		t.Errorf("the MSI's digest does not match its signature:\n%s", out)
	}
	// Trusting the test certificate, everything verifies.
	out, ok = verify(t, msi, "-CAfile", cert)
	if !ok || !strings.Contains(out, "Signature verification: ok") || !strings.Contains(out, "Steward Test Code Signing") {
		t.Errorf("verify with the test certificate trusted failed:\n%s", out)
	}

	// The executables inside are signed too.
	ex := t.TempDir()
	msiRun(t, "msiextract", "-C", ex, msi)
	for _, name := range []string{"steward-agent.exe", "steward-msi-config.exe"} {
		if out, ok := verify(t, filepath.Join(ex, "Steward", name), "-CAfile", cert); !ok {
			t.Errorf("%s is not validly signed:\n%s", name, out)
		}
	}

	// A change to the signed database breaks the signature.
	tampered := filepath.Join(dir, "tampered.msi")
	b, _ := os.ReadFile(msi)
	os.WriteFile(tampered, b, 0o644)
	msiRun(t, "msibuild", tampered, "-q", "UPDATE `Property` SET `Value` = 'https://evil.example.com' WHERE `Property` = 'ARPURLINFOABOUT'")
	if out, ok := verify(t, tampered, "-CAfile", cert); ok {
		t.Errorf("a modified MSI still verifies:\n%s", out)
	}

	// And an unsigned build has no signature at all.
	t.Setenv("STEWARD_SIGN_CERT", "")
	t.Setenv("STEWARD_SIGN_KEY", "")
	unsigned, err := MSI(Options{Version: "1.2.0", Arch: "amd64", Binary: exe, OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if out, ok := verify(t, unsigned, "-CAfile", cert); ok || !strings.Contains(out, "no signature") {
		t.Errorf("an unsigned MSI verifies:\n%s", out)
	}
}

func TestSignerFromEnv(t *testing.T) {
	for _, tc := range []struct {
		cert, key, p12 string
		ok, signer     bool
	}{
		{"", "", "", true, false},
		{"c", "k", "", true, true},
		{"", "", "p", true, true},
		{"c", "", "", false, false},
		{"", "k", "", false, false},
		{"c", "k", "p", false, false},
	} {
		t.Setenv("STEWARD_SIGN_CERT", tc.cert)
		t.Setenv("STEWARD_SIGN_KEY", tc.key)
		t.Setenv("STEWARD_SIGN_PKCS12", tc.p12)
		s, err := SignerFromEnv()
		if (err == nil) != tc.ok || (s != nil) != tc.signer {
			t.Errorf("cert=%q key=%q p12=%q: signer %v, err %v", tc.cert, tc.key, tc.p12, s, err)
		}
	}
}
