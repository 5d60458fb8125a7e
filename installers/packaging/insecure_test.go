package packaging

import (
	"strings"
	"testing"
)

// A package built for a plain http:// server on another machine accepts
// it in agent.yaml (the agent refuses such a URL otherwise); https and
// loopback servers get no such line.
func TestAgentYAMLInsecureHTTP(t *testing.T) {
	for server, want := range map[string]bool{
		"http://10.0.0.1:8080":        true,
		"http://steward.example.com":  true,
		"https://steward.example.com": false,
		"http://127.0.0.1:8080":       false,
		"http://localhost:8080":       false,
		"http://[::1]:8080":           false,
	} {
		out, err := agentYAML(&Enrollment{Server: server, EnrollSecret: "s"})
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(string(out), "\ninsecure_http: true\n"); got != want {
			t.Errorf("%s: insecure_http written %t, want %t\n%s", server, got, want, out)
		}
	}
}
