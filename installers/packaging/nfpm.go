package packaging

import (
	"bytes"
	"debug/elf"
	"embed"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/template"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/files"

	"github.com/steward-project/steward/installers"
)

// The maintainer scripts (scripts/) and configuration templates (config/)
// are compiled in, so that the builders work from any directory, e.g. in
// stewardctl.
var (
	//go:embed scripts/*.sh
	scriptFiles embed.FS
	//go:embed config/*
	configFiles embed.FS
)

const (
	maintainer = "Steward project <steward@steward-project.invalid>"
	homepage   = "https://github.com/steward-project/steward"
	vendor     = "Steward project"

	// Where the packages put things; the scripts and the systemd units
	// use the same paths.
	configDir      = "/etc/steward"
	agentConfig    = configDir + "/agent.yaml"
	agentSecret    = configDir + "/enroll-secret"
	agentCA        = configDir + "/ca.pem"
	serverConfig   = configDir + "/server.yaml"
	serverUser     = "steward"
	packageRelease = "1"
)

// linuxComponent is what differs between the agent and server packages.
type linuxComponent struct {
	name        string // package, binary and service name
	description string // first line: the summary
	phases      []string
}

var linuxComponents = map[string]linuxComponent{
	"agent": {
		name: "steward-agent",
		description: "Steward agent: inventory and policy checks for this machine\n" +
			"Collects this machine's hardware and software inventory, evaluates\n" +
			"policies and streams both to a steward-server over one WebSocket.",
		phases: []string{"postinst", "prerm", "postrm"},
	},
	"server": {
		name: "steward-server",
		description: "Steward server: stores fleet inventory and serves the API\n" +
			"Receives inventory and policy results from steward-agent, stores them\n" +
			"in an embedded SQLite database or PostgreSQL, raises alerts and\n" +
			"answers fleet-wide questions through a REST API.",
		phases: []string{"preinst", "postinst", "prerm", "postrm"},
	},
}

// buildLinux writes the .deb or .rpm (format) of component into o.OutDir.
func buildLinux(format, component string, o Options) (string, error) {
	if err := o.check(component); err != nil {
		return "", err
	}
	if err := checkBinary(o.Binary, o.Arch); err != nil {
		return "", err
	}
	packager, err := nfpm.Get(format)
	if err != nil {
		return "", err
	}
	stage, err := os.MkdirTemp("", "steward-"+format+"-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(stage)
	info, err := linuxInfo(format, component, o, stage)
	if err != nil {
		return "", err
	}

	// ConventionalFileName normalises the architecture in place (amd64 is
	// x86_64 for rpm); Package does the same, so it gets its own copy.
	named := *info
	out := filepath.Join(o.OutDir, packager.ConventionalFileName(&named))
	tmp, err := os.CreateTemp(o.OutDir, ".partial-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if err := packager.Package(info, tmp); err != nil {
		tmp.Close()
		return "", fmt.Errorf("%s %s: %w", format, component, err)
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	// A configured package carries the enroll secret: only its owner may
	// read it (CreateTemp made it 0600).
	if o.Enroll == nil {
		if err := os.Chmod(tmp.Name(), 0o644); err != nil {
			return "", err
		}
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return "", err
	}
	return out, nil
}

// linuxInfo describes the package to nfpm. Files that are not the binary
// (the unit, the configuration, the scripts) are written into stage.
func linuxInfo(format, component string, o Options, stage string) (*nfpm.Info, error) {
	c := linuxComponents[component]
	put := func(name string, data []byte) (string, error) {
		p := filepath.Join(stage, name)
		return p, os.WriteFile(p, data, 0o600)
	}
	unitDir := "/lib/systemd/system" // Debian
	if format == "rpm" {
		unitDir = "/usr/lib/systemd/system"
	}
	unit, err := installers.Units.ReadFile("systemd/" + c.name + ".service")
	if err != nil {
		return nil, err
	}
	unitPath, err := put("unit", unit)
	if err != nil {
		return nil, err
	}
	root := func(mode os.FileMode) *files.ContentFileInfo {
		return &files.ContentFileInfo{Owner: "root", Group: "root", Mode: mode}
	}
	contents := files.Contents{
		{Source: o.Binary, Destination: "/usr/bin/" + c.name, FileInfo: root(0o755)},
		{Source: unitPath, Destination: unitDir + "/" + c.name + ".service", FileInfo: root(0o644)},
		{Destination: configDir, Type: files.TypeDir, FileInfo: root(0o755)},
	}
	conffile := func(src, dst string, fi *files.ContentFileInfo) {
		contents = append(contents, &files.Content{Source: src, Destination: dst, Type: files.TypeConfigNoReplace, FileInfo: fi})
	}

	switch component {
	case "agent":
		yml, err := agentYAML(o.Enroll)
		if err != nil {
			return nil, err
		}
		p, err := put("agent.yaml", yml)
		if err != nil {
			return nil, err
		}
		// steward-agent install keeps its configuration readable by root
		// only (it may hold an inline enroll_secret): ship it so.
		conffile(p, agentConfig, root(0o600))
		if e := o.Enroll; e != nil {
			p, err := put("enroll-secret", []byte(strings.TrimSpace(e.EnrollSecret)+"\n"))
			if err != nil {
				return nil, err
			}
			conffile(p, agentSecret, root(0o600))
			if len(e.CAFile) > 0 {
				p, err := put("ca.pem", e.CAFile)
				if err != nil {
					return nil, err
				}
				conffile(p, agentCA, root(0o644))
			}
		}
	case "server":
		yml, err := configFiles.ReadFile("config/server.yaml")
		if err != nil {
			return nil, err
		}
		p, err := put("server.yaml", yml)
		if err != nil {
			return nil, err
		}
		// It may hold database passwords and receiver secrets: readable
		// by the server's group only. The group exists before unpacking
		// (preinst).
		conffile(p, serverConfig, &files.ContentFileInfo{Owner: "root", Group: serverUser, Mode: 0o640})
	}

	scripts := map[string]string{}
	for _, phase := range c.phases {
		text, err := maintainerScript(format, component, phase)
		if err != nil {
			return nil, err
		}
		if scripts[phase], err = put(phase, []byte(text)); err != nil {
			return nil, err
		}
	}

	info := &nfpm.Info{
		Name:          c.name,
		Arch:          o.Arch,
		Platform:      "linux",
		Version:       o.Version,
		VersionSchema: "none", // o.Version is final: see PackageVersion
		Release:       packageRelease,
		Section:       "admin",
		Priority:      "optional",
		Maintainer:    maintainer,
		Description:   c.description,
		Vendor:        vendor,
		Homepage:      homepage,
		Overridables: nfpm.Overridables{
			Contents: contents,
			Scripts: nfpm.Scripts{
				PreInstall:  scripts["preinst"],
				PostInstall: scripts["postinst"],
				PreRemove:   scripts["prerm"],
				PostRemove:  scripts["postrm"],
			},
			RPM: nfpm.RPM{
				Summary: strings.SplitN(c.description, "\n", 2)[0],
				Group:   "System Environment/Daemons",
			},
		},
	}
	return nfpm.WithDefaults(info), nil
}

// agentYAML renders /etc/steward/agent.yaml: a commented template, or for
// a configured package the server, the secret file and the CA file.
func agentYAML(e *Enrollment) ([]byte, error) {
	text, err := configFiles.ReadFile("config/agent.yaml.tmpl")
	if err != nil {
		return nil, err
	}
	t, err := template.New("agent.yaml").Parse(string(text))
	if err != nil {
		return nil, err
	}
	var data struct {
		Server string
		CAFile bool
		// InsecureHTTP: the server is plain http:// to another machine,
		// which the agent refuses unless its config accepts it.
		InsecureHTTP bool
		// Labels are key/value pairs as YAML double-quoted strings (JSON
		// string syntax is valid YAML), sorted by key.
		Labels [][2]string
	}
	if e != nil {
		data.Server, data.CAFile = e.Server, len(e.CAFile) > 0
		data.InsecureHTTP = plainHTTPRemote(e.Server)
		for _, k := range slices.Sorted(maps.Keys(e.Labels)) {
			kq, _ := json.Marshal(k) // strings always encode
			vq, _ := json.Marshal(e.Labels[k])
			data.Labels = append(data.Labels, [2]string{string(kq), string(vq)})
		}
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// plainHTTPRemote reports whether server is an http:// URL to a host
// other than this machine (the agent's own rule for insecure_http).
func plainHTTPRemote(server string) bool {
	u, err := url.Parse(server)
	if err != nil || u.Scheme != "http" {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}

// maintainerScript assembles one maintainer script (phase: preinst,
// postinst, prerm or postrm) for format (deb or rpm): a header naming the
// package, the shared helpers, the component's helpers, and the phase's
// own text. dpkg passes deb scripts their action as words (configure,
// remove, purge, ...), rpm passes a count of installed versions; each
// phase's text handles both.
func maintainerScript(format, component, phase string) (string, error) {
	c, ok := linuxComponents[component]
	if !ok {
		return "", fmt.Errorf("component %q: want agent or server", component)
	}
	if format != "deb" && format != "rpm" {
		return "", fmt.Errorf("format %q: want deb or rpm", format)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "#!/bin/sh\n# %s %s (%s), generated by installers/packaging: see docs/packages.md.\n", c.name, phase, format)
	// Every phase carries all the shared helpers, used or not.
	b.WriteString("# shellcheck disable=SC2317 # helpers this phase does not call\n")
	fmt.Fprintf(&b, "set -e\n\nPKG_FORMAT=%s\nPKG_NAME=%s\nBIN=/usr/bin/%s\n\n", format, c.name, c.name)
	parts := []string{"scripts/lib.sh"}
	if component == "server" {
		parts = append(parts, "scripts/server-lib.sh")
	}
	parts = append(parts, "scripts/"+component+"-"+phase+".sh")
	for i, p := range parts {
		text, err := scriptFiles.ReadFile(p)
		if err != nil {
			return "", fmt.Errorf("%s %s: %w", component, phase, err)
		}
		if i > 0 {
			b.WriteString("\n")
		}
		b.Write(text)
	}
	return b.String(), nil
}

// checkBinary makes sure path is a Linux executable for arch, so that an
// amd64 build never ships in an arm64 package.
func checkBinary(path, arch string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("binary %s: %w", path, err)
	}
	defer f.Close()
	want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[arch]
	if f.Machine != want {
		return fmt.Errorf("binary %s is built for %v, not %s", path, f.Machine, arch)
	}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return fmt.Errorf("binary %s is not an executable (%v)", path, f.Type)
	}
	return nil
}
