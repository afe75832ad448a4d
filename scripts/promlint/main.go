// promlint: Prometheus' metrics linter (client_golang's promlint, the checks `promtool check metrics` runs) over
// the text exposition format read from stdin. Prints one finding per line; exits 1 when there is any, 2 when the
// input cannot be parsed.
package main

import (
	"fmt"
	"os"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

func main() {
	problems, err := promlint.New(os.Stdin).Lint()
	if err != nil {
		fmt.Fprintf(os.Stderr, "promlint: %v\n", err)
		os.Exit(2)
	}
	for _, p := range problems {
		fmt.Printf("%s: %s\n", p.Metric, p.Text)
	}
	if len(problems) > 0 {
		os.Exit(1)
	}
}
