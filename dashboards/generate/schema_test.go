package generate

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// TestStrictSchema decodes the committed dashboards strictly with the
// SDK's types, which follow Grafana's dashboard schema: a missing
// required field, a field of the wrong type or an unknown one fails.
func TestStrictSchema(t *testing.T) {
	plugins.RegisterDefaultPlugins()
	paths, err := filepath.Glob(filepath.Join(grafanaDir, "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no dashboards in %s (%v); run `make dashboards`", grafanaDir, err)
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard.Dashboard
		err = d.UnmarshalJSONStrict(data)
		// Some of the SDK's decoders return an empty cog.BuildErrors
		// (a non-nil error holding nothing) on success.
		var be cog.BuildErrors
		if errors.As(err, &be) && len(be) == 0 {
			err = nil
		}
		if err != nil {
			t.Errorf("%s does not follow the dashboard schema: %v", filepath.Base(p), err)
		}
	}
}
