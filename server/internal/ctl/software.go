package ctl

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"strconv"

	"github.com/steward-project/steward/server/internal/apitypes"
	"github.com/steward-project/steward/server/internal/pkgver"
)

// softwareFlags are the name and version options both software commands
// take.
type softwareFlags struct {
	exact   bool
	version string
}

func (f *softwareFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.exact, "exact", false, "match NAME exactly, case included")
	fs.StringVar(&f.version, "version", "", "only versions satisfying this constraint, e.g. '<5.3' or '>=3.0.0 <3.0.14' (compared in each package's own ordering)")
}

// query checks the options and turns them into the software routes'
// parameters.
func (f softwareFlags) query(command, name string) (url.Values, error) {
	if name == "" {
		return nil, &usageError{msg: command + " needs a package NAME"}
	}
	if _, err := pkgver.Parse(f.version); err != nil {
		return nil, &usageError{msg: "--version: " + err.Error()}
	}
	q := url.Values{"name": {name}}
	if f.exact {
		q.Set("match", "exact")
	}
	if f.version != "" {
		q.Set("version", f.version)
	}
	return q, nil
}

func softwareSearch(ctx context.Context, s *session, name string, f softwareFlags, limit int) error {
	q, err := f.query("software search", name)
	if err != nil {
		return err
	}
	if err := checkLimit(limit); err != nil {
		return err
	}
	q.Set("limit", strconv.Itoa(limit))
	items, err := collectPages(ctx, s.client, "/api/v1/software", q, "software")
	if err != nil {
		return err
	}
	if s.output == outputJSON {
		return printJSON(s.out, struct {
			Software []json.RawMessage `json:"software"`
		}{items})
	}
	hits, err := decodeAll[apitypes.SoftwareHit](items)
	if err != nil {
		return err
	}
	tw := newTable(s.out)
	tw.row("HOST_ID", "HOSTNAME", "NAME", "VERSION", "ARCH", "SOURCE")
	for _, h := range hits {
		tw.row(h.HostID, cell(h.Hostname), cell(h.Name),
			cell(h.Version), cell(h.Arch), cell(h.Source))
	}
	return tw.Flush()
}

func softwareVersions(ctx context.Context, s *session, name string, f softwareFlags) error {
	q, err := f.query("software versions", name)
	if err != nil {
		return err
	}
	raw, err := s.client.Get(ctx, "/api/v1/software/versions", q)
	if err != nil {
		return err
	}
	if s.output == outputJSON {
		return printJSON(s.out, raw)
	}
	var list apitypes.SoftwareVersionList
	if err := json.Unmarshal(raw, &list); err != nil {
		return fmt.Errorf("decode software versions: %w", err)
	}
	tw := newTable(s.out)
	tw.row("NAME", "VERSION", "SOURCE", "HOSTS")
	for _, v := range list.Versions {
		tw.row(cell(v.Name), cell(v.Version), cell(v.Source), v.Hosts)
	}
	return tw.Flush()
}
