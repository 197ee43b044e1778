package gatewayconformance

import (
	"fmt"
	"os"
	"strings"
	"testing"

	confv1 "sigs.k8s.io/gateway-api/conformance/apis/v1"
	"sigs.k8s.io/yaml"
)

// summaryPrefix starts the lines hack/gateway-conformance.sh shows as the
// result of the run.
const summaryPrefix = "gateway-conformance: "

// summarizeReport prints, when the test ends, one line per profile of the
// report at path: results and counts of core and extended tests and the
// failed ones. Register it before the suite runs: cleanups run last in
// first out, so it runs after the suite has written its report.
func summarizeReport(t *testing.T, path string) {
	t.Helper()
	t.Cleanup(func() {
		if path == "" {
			fmt.Println(summaryPrefix + "no report (a subset of the suite ran)")
			return
		}
		b, err := os.ReadFile(path)
		if err != nil {
			fmt.Printf("%sno report: %v\n", summaryPrefix, err)
			return
		}
		var r confv1.ConformanceReport
		if err := yaml.Unmarshal(b, &r); err != nil {
			fmt.Printf("%sreport %s unreadable: %v\n", summaryPrefix, path, err)
			return
		}
		fmt.Printf("%sreport %s (Gateway API %s, %s channel, Portico %s)\n",
			summaryPrefix, path, r.GatewayAPIVersion, r.GatewayAPIChannel, r.Implementation.Version)
		if len(r.ProfileReports) == 0 {
			fmt.Println(summaryPrefix + "no test ran: the suite's setup failed (see its log above)")
		}
		for _, p := range r.ProfileReports {
			fmt.Printf("%s%s core: %s\n", summaryPrefix, p.Name, status(p.Core))
			if e := p.Extended; e != nil {
				fmt.Printf("%s%s extended: %s; %d features claimed, %d not\n",
					summaryPrefix, p.Name, status(e.Status), len(e.SupportedFeatures), len(e.UnsupportedFeatures))
			}
		}
	})
}

func status(s confv1.Status) string {
	line := fmt.Sprintf("%s, %d passed, %d failed, %d skipped",
		s.Result, s.Statistics.Passed, s.Statistics.Failed, s.Statistics.Skipped)
	if len(s.FailedTests) > 0 {
		line += "; failed: " + strings.Join(s.FailedTests, ", ")
	}
	return line
}
