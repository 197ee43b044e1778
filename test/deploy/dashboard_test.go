package deploy

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// dashboard is the part of Grafana's dashboard model the test reads.
type dashboard struct {
	UID    string  `json:"uid"`
	Title  string  `json:"title"`
	Panels []panel `json:"panels"`
}

type panel struct {
	ID      int      `json:"id"`
	Type    string   `json:"type"`
	Title   string   `json:"title"`
	Targets []target `json:"targets"`
	Panels  []panel  `json:"panels"` // a collapsed row's panels
}

type target struct {
	Expr string `json:"expr"`
}

// promQLWords are PromQL's functions, aggregations and keywords: the
// identifiers in an expression that are not metric names.
var promQLWords = map[string]bool{}

func init() {
	for w := range strings.FieldsSeq(`sum min max avg count stddev stdvar topk bottomk quantile count_values group limitk limit_ratio
		by without on ignoring group_left group_right bool offset and or unless atan2 inf nan
		abs absent absent_over_time ceil changes clamp clamp_max clamp_min day_of_month day_of_week day_of_year days_in_month
		delta deriv exp floor histogram_quantile histogram_count histogram_sum histogram_fraction histogram_avg
		holt_winters hour idelta increase irate label_join label_replace ln log2 log10 minute month predict_linear
		rate resets round scalar sgn sort sort_desc sqrt time timestamp vector year
		avg_over_time min_over_time max_over_time sum_over_time count_over_time quantile_over_time stddev_over_time
		stdvar_over_time last_over_time present_over_time`) {
		promQLWords[w] = true
	}
}

var (
	reStrings   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	reMatchers  = regexp.MustCompile(`\{[^}]*\}`)
	reRanges    = regexp.MustCompile(`\[[^\]]*\]`)
	reLabelList = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	reVariables = regexp.MustCompile(`\$\{?\w+\}?`)
	reNumbers   = regexp.MustCompile(`\b\d[\w.]*`) // 0.95, 86400, 5m, 1e3
	reIdent     = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*`)
)

// metricNames returns the metric names an expression selects, with the
// _bucket, _sum and _count of histograms stripped to the family name.
func metricNames(expr string) []string {
	e := reStrings.ReplaceAllString(expr, " ")
	e = reMatchers.ReplaceAllString(e, " ")
	e = reRanges.ReplaceAllString(e, " ")
	e = reLabelList.ReplaceAllString(e, " ")
	e = reVariables.ReplaceAllString(e, " ")
	e = reNumbers.ReplaceAllString(e, " ")
	var out []string
	for _, id := range reIdent.FindAllString(e, -1) {
		if promQLWords[id] {
			continue
		}
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			id = strings.TrimSuffix(id, suf)
		}
		out = append(out, id)
	}
	return out
}

func TestMetricNames(t *testing.T) {
	for expr, want := range map[string][]string{
		`sum by (namespace, ingress) (rate(portico_requests_total{status_class="5xx"}[$__rate_interval]))`: {"portico_requests_total"},
		`histogram_quantile(0.99, sum by (le) (rate(portico_request_duration_seconds_bucket[5m])))`:        {"portico_request_duration_seconds"},
		`time() - max without (pod) (a_total) / on (x) group_left (y) b_count offset 5m`:                   {"a_total", "b"},
		`min by (namespace, secret) (portico_tls_certificate_expiry_timestamp_seconds - time()) / 86400`:   {"portico_tls_certificate_expiry_timestamp_seconds"},
	} {
		if got := metricNames(expr); !slices.Equal(got, want) {
			t.Errorf("metricNames(%q) = %v, want %v", expr, got, want)
		}
	}
}

// TestGrafanaDashboard checks deploy/grafana/portico.json: valid JSON, the
// panels the issue asks for, and every metric named in every expression is
// one a real Portico exports (its /metrics after traffic).
func TestGrafanaDashboard(t *testing.T) {
	raw, err := os.ReadFile(repoPath(t, "deploy/grafana/portico.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("deploy/grafana/portico.json is not valid JSON: %v", err)
	}
	if d.UID == "" || d.Title == "" {
		t.Errorf("dashboard uid %q title %q: both must be set", d.UID, d.Title)
	}

	var exprs []string
	ids := map[int]bool{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if ids[p.ID] {
				t.Errorf("panel id %d used twice", p.ID)
			}
			ids[p.ID] = true
			if p.Type != "row" && len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				exprs = append(exprs, tg.Expr)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)

	all := strings.Join(exprs, "\n")
	for _, want := range []string{
		"portico_requests_total", // request rate
		`status_class="5xx"`,     // error rate
		"histogram_quantile(0.5, sum by (namespace, ingress, le)",   // p50 by Ingress
		"histogram_quantile(0.95, sum by (namespace, ingress, le)",  // p95 by Ingress
		"histogram_quantile(0.99, sum by (namespace, ingress, le)",  // p99 by Ingress
		"portico_upstream_connection_errors_total",                  // upstream errors
		"portico_upstream_retries_total",                            // retries
		"portico_config_builds_total",                               // config builds
		"portico_tls_certificate_expiry_timestamp_seconds - time()", // expiry
		"/ 86400", // ...in days
		"portico_leader",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no expression contains %q", want)
		}
	}

	s := scrapeAfterTraffic(t)
	for _, expr := range exprs {
		names := metricNames(expr)
		if len(names) == 0 {
			t.Errorf("expression names no metric: %s", expr)
		}
		for _, n := range names {
			if s.families[n] == nil {
				t.Errorf("expression uses %s, which Portico does not export:\n%s", n, expr)
			}
		}
	}
}
