package macinv

import (
	"testing"

	"github.com/steward-project/steward/shared/inventory"
)

func TestParsePortsGolden(t *testing.T) {
	got, err := ParsePorts(tool(t, "lsof.txt"))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "ports.json", got)
}

func TestParsePorts(t *testing.T) {
	cases := []struct {
		name, out string
		want      []inventory.Port
	}{
		{"empty output (lsof exit 1)", "", []inventory.Port{}},
		{"tcp listener", "p10\ncsshd\nLroot\nf3\ntIPv4\nPTCP\nn*:22\nTST=LISTEN\n",
			[]inventory.Port{{Proto: "tcp", Address: "0.0.0.0", Port: 22, Process: "sshd", User: "root"}}},
		{"tcp not listening", "p10\ncssh\nLbob\nf3\ntIPv4\nPTCP\nn10.0.0.2:50000->10.0.0.1:22\nTST=ESTABLISHED\n",
			[]inventory.Port{}},
		{"tcp state missing", "p10\ncx\nf3\ntIPv4\nPTCP\nn*:22\n", []inventory.Port{}},
		{"udp ipv6 wildcard", "p20\ncntpd\nLroot\nf5\ntIPv6\nPUDP\nn*:123\n",
			[]inventory.Port{{Proto: "udp", Address: "::", Port: 123, Process: "ntpd", User: "root"}}},
		{"udp connected", "p20\ncx\nf5\ntIPv4\nPUDP\nn10.0.0.2:5000->10.0.0.1:53\n", []inventory.Port{}},
		{"udp unbound", "p20\ncx\nf5\ntIPv4\nPUDP\nn*:*\n", []inventory.Port{}},
		{"bracketed ipv6", "p30\ncpostgres\nL_postgres\nf7\ntIPv6\nPTCP\nn[::1]:5432\nTST=LISTEN\n",
			[]inventory.Port{{Proto: "tcp", Address: "::1", Port: 5432, Process: "postgres", User: "_postgres"}}},
		{"command with spaces", "p40\ncGoogle Chrome Helper\nLalice\nf9\ntIPv4\nPUDP\nn*:5353\n",
			[]inventory.Port{{Proto: "udp", Address: "0.0.0.0", Port: 5353, Process: "Google Chrome Helper", User: "alice"}}},
		{"forked workers: parent's user", "p900\nchttpd\nL_www\nf4\ntIPv6\nPTCP\nn*:80\nTST=LISTEN\np90\nchttpd\nLroot\nf4\ntIPv6\nPTCP\nn*:80\nTST=LISTEN\n",
			[]inventory.Port{{Proto: "tcp", Address: "::", Port: 80, Process: "httpd", User: "root"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParsePorts([]byte(c.out))
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Ports) != len(c.want) {
				t.Fatalf("got %+v, want %+v", got.Ports, c.want)
			}
			for i := range c.want {
				if got.Ports[i] != c.want[i] {
					t.Errorf("port %d = %+v, want %+v", i, got.Ports[i], c.want[i])
				}
			}
		})
	}
}
