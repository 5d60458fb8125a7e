package ctl

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"

	"github.com/steward-project/steward/server/internal/api"
)

func softwareSearch(ctx context.Context, s *session, name, version string, limit int) error {
	if name == "" {
		return &usageError{msg: "software search needs a package NAME"}
	}
	if err := checkLimit(limit); err != nil {
		return err
	}
	q := url.Values{"name": {name}, "limit": {strconv.Itoa(limit)}}
	if version != "" {
		q.Set("version", version)
	}
	items, err := collectPages(ctx, s.client, "/api/v1/software", q, "software")
	if err != nil {
		return err
	}
	if s.output == outputJSON {
		return printJSON(s.out, struct {
			Software []json.RawMessage `json:"software"`
		}{items})
	}
	hits, err := decodeAll[api.SoftwareHit](items)
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
