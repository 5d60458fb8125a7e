// Command gen writes Steward's Grafana dashboards as JSON files:
//
//	go run ./dashboards/generate/cmd/gen -out dashboards/grafana
//
// It is what `make dashboards` runs. The output is deterministic, so the
// files can be committed and compared.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/steward-project/steward/dashboards/generate"
)

func main() {
	out := flag.String("out", "dashboards/grafana", "directory to write the dashboard JSON files to")
	flag.Parse()
	names, err := generate.Write(*out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	for _, n := range names {
		fmt.Println("wrote", *out+"/"+n)
	}
}
