package alertconf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocsExamples loads the YAML examples of docs/alerting-config.md that
// are whole config files, so that the reference cannot drift from the
// parser.
func TestDocsExamples(t *testing.T) {
	raw, err := os.ReadFile("../../../../docs/alerting-config.md")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, content := range map[string]string{"pd.key": "pd-key\n", "slack.url": "https://hooks.slack.com/services/T/B/X\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("STEWARD_WEBHOOK_SECRET", "s")
	t.Setenv("STEWARD_SMTP_PASSWORD", "p")
	var files []string
	for i, block := range strings.Split(string(raw), "```yaml\n")[1:] {
		block, _, _ = strings.Cut(block, "```")
		if !strings.HasPrefix(block, "listen:") {
			continue
		}
		path := filepath.Join(dir, "example.yaml")
		block = strings.ReplaceAll(block, "/etc/steward/", dir+"/")
		if err := os.WriteFile(path, []byte(block), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := LoadFile(path)
		if err != nil {
			t.Errorf("example %d:\n%v", i, err)
			continue
		}
		files = append(files, block)
		if len(c.Receivers) == 0 || len(c.Routes) == 0 || len(c.Rules) == 0 {
			t.Errorf("example %d is missing parts: %+v", i, c)
		}
	}
	if len(files) != 2 {
		t.Errorf("found %d whole-file examples, want the opening one and the complete one", len(files))
	}
}
