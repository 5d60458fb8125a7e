package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/steward-project/steward/shared/inventory"
)

// InventoryEnv is an Env that answers from an inventory document: expr
// leaves from all of it, package, service and port leaves from its
// software, services and ports sections. File, registry and command leaves
// get ErrUnavailable: stored inventory does not hold them. platform is
// "linux", "windows" or "darwin"; "" derives it from the os section.
//
// The server uses it to evaluate policies against stored inventory; the
// agent's live Env embeds it for the leaves the inventory answers. It is
// safe for concurrent use and decodes each section once.
func InventoryEnv(doc inventory.Document, platform string) Env {
	e := &inventoryEnv{doc: doc, platform: platform}
	if e.platform == "" {
		e.platform = platformOf(doc)
	}
	return e
}

type inventoryEnv struct {
	doc      inventory.Document
	platform string

	software sync.Once
	pkgs     []inventory.Package
	pkgsErr  error

	services sync.Once
	svcs     []inventory.Service
	svcsErr  error

	ports    sync.Once
	portList []inventory.Port
	portsErr error

	all    sync.Once
	inv    map[string]any
	invErr error
}

// platformOf reads the platform from the os section: Windows and macOS
// collectors set it to "windows" and "darwin"; everything else is a Linux
// distribution ("debian", "rhel", ...).
func platformOf(doc inventory.Document) string {
	var os inventory.OS
	if raw, ok := doc.Sections[inventory.SectionOS]; ok && json.Unmarshal(raw, &os) == nil {
		switch strings.ToLower(os.Platform) {
		case "windows":
			return "windows"
		case "darwin", "macos":
			return "darwin"
		}
	}
	return "linux"
}

func (e *inventoryEnv) Platform() string { return e.platform }

// section decodes one section into v, or says why it is missing.
func (e *inventoryEnv) section(name string, v any) error {
	raw, ok := e.doc.Sections[name]
	if !ok {
		if why := e.doc.Errors[name]; why != "" {
			return fmt.Errorf("%w: inventory has no %s section: %s", ErrUnavailable, name, why)
		}
		return fmt.Errorf("%w: inventory has no %s section", ErrUnavailable, name)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("decode %s section: %w", name, err)
	}
	return nil
}

func (e *inventoryEnv) Packages(ctx context.Context) ([]inventory.Package, error) {
	e.software.Do(func() {
		var s inventory.Software
		e.pkgsErr = e.section(inventory.SectionSoftware, &s)
		e.pkgs = s.Packages
	})
	return e.pkgs, e.pkgsErr
}

func (e *inventoryEnv) Services(ctx context.Context) ([]inventory.Service, error) {
	e.services.Do(func() {
		var s inventory.Services
		e.svcsErr = e.section(inventory.SectionServices, &s)
		e.svcs = s.Services
	})
	return e.svcs, e.svcsErr
}

func (e *inventoryEnv) Ports(ctx context.Context) ([]inventory.Port, error) {
	e.ports.Do(func() {
		var p inventory.Ports
		e.portsErr = e.section(inventory.SectionPorts, &p)
		e.portList = p.Ports
	})
	return e.portList, e.portsErr
}

// Inventory decodes every section with whole numbers as int64 (so that CEL
// compares them as ints) and others as float64.
func (e *inventoryEnv) Inventory(ctx context.Context) (map[string]any, error) {
	e.all.Do(func() {
		inv := make(map[string]any, len(e.doc.Sections))
		for name, raw := range e.doc.Sections {
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.UseNumber()
			var v any
			if err := dec.Decode(&v); err != nil {
				e.invErr = fmt.Errorf("decode %s section: %w", name, err)
				return
			}
			inv[name] = celValue(v)
		}
		e.inv = inv
	})
	return e.inv, e.invErr
}

// celValue replaces json.Number, which CEL does not know, by int64 or
// float64.
func celValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = celValue(x)
		}
	case []any:
		for i, x := range t {
			t[i] = celValue(x)
		}
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64()
		return f
	}
	return v
}

var errNoFiles = fmt.Errorf("%w: files are not part of stored inventory; only the agent can check them", ErrUnavailable)

func (e *inventoryEnv) Glob(context.Context, string) ([]string, error) { return nil, errNoFiles }

func (e *inventoryEnv) Stat(context.Context, string) (FileStat, error) {
	return FileStat{}, errNoFiles
}

func (e *inventoryEnv) ReadFile(context.Context, string, int64) ([]byte, error) {
	return nil, errNoFiles
}

func (e *inventoryEnv) Registry(context.Context, string, string) (string, error) {
	return "", fmt.Errorf("%w: the registry is not part of stored inventory; only the agent can check it", ErrUnavailable)
}

func (e *inventoryEnv) Run(context.Context, []string, int) (CommandResult, error) {
	return CommandResult{}, fmt.Errorf("%w: commands run only on the agent", ErrUnavailable)
}
