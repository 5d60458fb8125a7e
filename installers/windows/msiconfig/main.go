// Command steward-msi-config writes the Steward agent's configuration from
// the Windows installer's properties. The MSI (installers/windows) installs
// it next to steward-agent.exe and runs it as LocalSystem, as deferred
// custom actions:
//
//	steward-msi-config configure --config C:\ProgramData\Steward\agent.yaml
//	    --template "C:\Program Files\Steward\agent.yaml.template"
//	    --server URL --enroll-secret SECRET --ca-file PATH --labels K=V,K2=V2
//	steward-msi-config remove --config C:\ProgramData\Steward\agent.yaml
//
// configure starts from the existing agent.yaml (an upgrade or repair keeps
// what an administrator changed) or else from the template, and sets only
// what was given: empty values mean "not given", so an upgrade run without
// properties changes nothing. The enroll secret goes into enroll-secret and
// the CA certificates into ca.pem, both next to agent.yaml, which names
// them. The labels (STEWARD_LABELS, key=value pairs separated by commas,
// as `stewardctl package --labels` takes them) become the labels mapping,
// replacing the one already there. The folder's ACL (SYSTEM and Administrators only) is set by the MSI
// before this runs, and every file created in it inherits it.
//
// remove deletes what configure and the agent wrote: agent.yaml,
// enroll-secret, ca.pem, the agent's default state directory (agent\) and
// this program's log, then the folder if it is empty.
//
// Messages go to stderr and are appended to installer.log in the same
// folder, since Windows Installer does not keep the output of a custom
// action. They never contain the secret.
package main

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/steward-project/steward/shared/labels"
)

// Names of the files kept next to agent.yaml.
const (
	secretName = "enroll-secret"
	caName     = "ca.pem"
	logName    = "installer.log"
	// stateName is the agent's default state directory on Windows
	// (C:\ProgramData\Steward\agent).
	stateName = "agent"
)

// placeholder matches a template value still naming its property, such as
// "[STEWARD_SERVER]".
var placeholder = regexp.MustCompile(`^\[[A-Z_]+\]$`)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// run is main without the exit, for tests.
func run(args []string, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: steward-msi-config configure|remove --config FILE [flags]")
		return 2
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.Config, "config", "", "the agent.yaml to write")
	fs.StringVar(&o.Template, "template", "", "the template a new agent.yaml starts from")
	fs.StringVar(&o.Server, "server", "", "STEWARD_SERVER")
	fs.StringVar(&o.EnrollSecret, "enroll-secret", "", "ENROLL_SECRET")
	fs.StringVar(&o.CAFile, "ca-file", "", "CA_FILE (relative: to this program's folder)")
	fs.StringVar(&o.Labels, "labels", "", "STEWARD_LABELS: host labels, k=v,k2=v2")
	fs.StringVar(&o.InsecureHTTP, "insecure-http", "", "INSECURE_HTTP: 1 accepts a plain http:// server on another machine")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if o.Config == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "steward-msi-config: --config is required and there are no arguments")
		return 2
	}
	logf := logger(stderr, filepath.Join(filepath.Dir(o.Config), logName))
	var err error
	switch args[0] {
	case "configure":
		if exe, e := os.Executable(); e == nil {
			o.BaseDir = filepath.Dir(exe)
		}
		var msg string
		msg, err = configure(o)
		if err == nil {
			logf("%s", msg)
		}
	case "remove":
		err = remove(o.Config)
		if err == nil {
			// The log went with the folder; say it on stderr only.
			fmt.Fprintf(stderr, "steward-msi-config: removed the agent's configuration and state in %s\n", filepath.Dir(o.Config))
		}
	default:
		fmt.Fprintf(stderr, "steward-msi-config: unknown command %q\n", args[0])
		return 2
	}
	if err != nil {
		logf("%s failed: %v", args[0], err)
		return 1
	}
	return 0
}

// logger returns a printf that writes to stderr and appends to the log
// file, best effort (the folder may not exist yet, or no longer).
func logger(stderr io.Writer, path string) func(string, ...any) {
	return func(format string, args ...any) {
		line := fmt.Sprintf(format, args...)
		fmt.Fprintf(stderr, "steward-msi-config: %s\n", line)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return
		}
		fmt.Fprintf(f, "%s %s\n", time.Now().UTC().Format(time.RFC3339), line)
		f.Close()
	}
}

// options are configure's inputs; empty strings are "not given".
type options struct {
	Config, Template             string
	Server, EnrollSecret, CAFile string
	// Labels are the host labels as k=v,k2=v2.
	Labels string
	// InsecureHTTP, 1 (or yes, true), writes insecure_http: true, which
	// the agent needs to use a plain http:// server on another machine.
	InsecureHTTP string
	// BaseDir resolves a relative CAFile: the installation folder, where
	// a configured package puts its server-ca.pem.
	BaseDir string
}

// configure writes agent.yaml (and enroll-secret and ca.pem) from o, and
// returns what it did in a sentence.
func configure(o options) (string, error) {
	server := strings.TrimSpace(o.Server)
	secret := strings.TrimSpace(o.EnrollSecret)
	caPath := strings.TrimSpace(o.CAFile)
	labelsGiven := strings.TrimSpace(o.Labels)
	insecure := false
	switch strings.ToLower(strings.TrimSpace(o.InsecureHTTP)) {
	case "":
	case "1", "yes", "true":
		insecure = true
	default:
		return "", fmt.Errorf("INSECURE_HTTP %q: want 1 or nothing", o.InsecureHTTP)
	}
	dir := filepath.Dir(o.Config)

	existing, err := os.ReadFile(o.Config)
	exists := err == nil
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	if server == "" && secret == "" && caPath == "" && labelsGiven == "" && !insecure {
		if exists {
			return fmt.Sprintf("no properties given; %s kept as it is", o.Config), nil
		}
		// An unconfigured installation: no agent.yaml, so the MSI
		// leaves the service stopped until one is written.
		return "no STEWARD_SERVER given and no agent.yaml yet: the service stays stopped until it is configured", nil
	}
	if !exists && server == "" {
		return "", errors.New("STEWARD_SERVER is required with ENROLL_SECRET, CA_FILE or STEWARD_LABELS for a new installation")
	}

	// Check everything before writing anything.
	if server != "" {
		if err := checkServer(server); err != nil {
			return "", err
		}
	}
	if strings.ContainsAny(secret, "\r\n") {
		return "", errors.New("ENROLL_SECRET spans lines")
	}
	var hostLabels map[string]string
	if labelsGiven != "" {
		if hostLabels, err = labels.Parse(labelsGiven); err != nil {
			return "", fmt.Errorf("STEWARD_LABELS: %w (want key=value pairs separated by commas, such as team=web,site=paris)", err)
		}
	}
	var caPEM []byte
	if caPath != "" {
		if !filepath.IsAbs(caPath) && o.BaseDir != "" {
			caPath = filepath.Join(o.BaseDir, caPath)
		}
		if caPEM, err = readCertificates(caPath); err != nil {
			return "", err
		}
	}
	src := existing
	if !exists {
		if src, err = os.ReadFile(o.Template); err != nil {
			return "", fmt.Errorf("template: %w", err)
		}
	}
	doc, err := parse(src)
	if err != nil {
		if exists {
			return "", fmt.Errorf("%s: %w", o.Config, err)
		}
		return "", fmt.Errorf("template %s: %w", o.Template, err)
	}

	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	var did []string
	if secret != "" {
		path := filepath.Join(dir, secretName)
		if err := writeFile(path, []byte(secret+"\n")); err != nil {
			return "", err
		}
		setKey(doc, "enroll_secret_file", path)
		// An inline secret from an older file would win over the file.
		deleteKey(doc, "enroll_secret")
		did = append(did, "enroll secret in "+path)
	}
	if caPEM != nil {
		path := filepath.Join(dir, caName)
		if err := writeFile(path, caPEM); err != nil {
			return "", err
		}
		setKey(doc, "ca_file", path)
		did = append(did, "CA certificates in "+path)
	}
	if server != "" {
		setKey(doc, "server", server)
		did = append(did, "server "+server)
	}
	if insecure {
		setKey(doc, "insecure_http", "true")
		did = append(did, "insecure_http")
	}
	if hostLabels != nil {
		setMapping(doc, "labels", hostLabels)
		did = append(did, fmt.Sprintf("%d labels", len(hostLabels)))
	}
	dropPlaceholders(doc)
	out, err := encode(doc)
	if err != nil {
		return "", err
	}
	if err := writeFile(o.Config, out); err != nil {
		return "", err
	}
	return fmt.Sprintf("wrote %s: %s", o.Config, strings.Join(did, ", ")), nil
}

// checkServer accepts http(s)://host[:port][/path] without user info.
func checkServer(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return fmt.Errorf("STEWARD_SERVER %q: want http(s)://host[:port]", s)
	}
	if strings.ContainsAny(s, " \t\r\n\"") {
		return fmt.Errorf("STEWARD_SERVER %q: contains spaces or quotes", s)
	}
	return nil
}

// readCertificates returns the CERTIFICATE blocks of the PEM file at path,
// re-encoded, so that nothing else in the file (a private key given by
// mistake) is copied. It fails when there is no parsable certificate.
func readCertificates(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("CA_FILE: %w", err)
	}
	var out []byte
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return nil, fmt.Errorf("CA_FILE %s: %w", path, err)
		}
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: block.Bytes})...)
	}
	if out == nil {
		return nil, fmt.Errorf("CA_FILE %s: no PEM certificate in it", path)
	}
	return out, nil
}

// parse reads a YAML document whose top level is a mapping (or empty).
func parse(b []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	if doc.Kind == 0 {
		// Empty or only comments: start a mapping, keeping the comments.
		doc = yaml.Node{Kind: yaml.DocumentNode, HeadComment: doc.HeadComment,
			Content: []*yaml.Node{{Kind: yaml.MappingNode, Tag: "!!map"}}}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("the top level is not a mapping of keys")
	}
	return &doc, nil
}

// mapping is the top-level mapping of a document from parse.
func mapping(doc *yaml.Node) *yaml.Node { return doc.Content[0] }

// setKey sets key to a double-quoted string, in place when the key exists
// (its comments stay), else at the end.
func setKey(doc *yaml.Node, key, value string) {
	m := mapping(doc)
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			v := m.Content[i+1]
			v.Kind, v.Tag, v.Style, v.Value, v.Content = yaml.ScalarNode, "!!str", yaml.DoubleQuotedStyle, value, nil
			return
		}
	}
	m.Content = append(m.Content,
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key},
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Style: yaml.DoubleQuotedStyle, Value: value})
}

// setMapping sets key to a mapping of double-quoted strings, sorted by
// key, replacing its value in place when the key exists (its comments
// stay), else at the end.
func setMapping(doc *yaml.Node, key string, values map[string]string) {
	value := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for _, k := range slices.Sorted(maps.Keys(values)) {
		value.Content = append(value.Content,
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Style: yaml.DoubleQuotedStyle, Value: k},
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Style: yaml.DoubleQuotedStyle, Value: values[k]})
	}
	m := mapping(doc)
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			v := m.Content[i+1]
			v.Kind, v.Tag, v.Style, v.Value, v.Content = yaml.MappingNode, "!!map", 0, "", value.Content
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, value)
}

// deleteKey removes key from the top-level mapping, if it is there.
func deleteKey(doc *yaml.Node, key string) {
	m := mapping(doc)
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}

// dropPlaceholders removes the keys whose value still names a property:
// their property was empty.
func dropPlaceholders(doc *yaml.Node) {
	m := mapping(doc)
	for i := 0; i+1 < len(m.Content); {
		v := m.Content[i+1]
		if v.Kind == yaml.ScalarNode && placeholder.MatchString(v.Value) {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			continue
		}
		i += 2
	}
}

func encode(doc *yaml.Node) ([]byte, error) {
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}

// writeFile replaces path atomically: a half-written agent.yaml would keep
// the service from starting.
func writeFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// remove deletes what configure and the agent keep next to config, and
// the folder when nothing else is left in it. It removes only names it
// knows, never the whole folder blindly.
func remove(config string) error {
	dir := filepath.Dir(config)
	var errs []error
	for _, name := range []string{filepath.Base(config), secretName, caName, logName} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := os.RemoveAll(filepath.Join(dir, stateName)); err != nil {
		errs = append(errs, err)
	}
	// Temporary files of an interrupted configure.
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".*.*"))
	for _, f := range leftovers {
		os.Remove(f)
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		if entries, _ := os.ReadDir(dir); len(entries) == 0 {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
