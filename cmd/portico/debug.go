package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"portico.dev/portico/router"
)

// routeJSON is one rule of the live table as /debug/routes shows it.
type routeJSON struct {
	Host      string `json:"host"` // "" for rules without a host
	Path      string `json:"path"`
	Type      string `json:"type"`
	Backend   string `json:"backend"` // "namespace/service:port"
	Endpoints int    `json:"endpoints"`
	Source    string `json:"source"` // "namespace/ingress", or "flag" for --default-backend-service
}

// tableJSON is GET /debug/routes.
type tableJSON struct {
	Routes         []routeJSON `json:"routes"`
	DefaultBackend *routeJSON  `json:"defaultBackend"` // null: unmatched requests get 404
}

// explainJSON is GET /debug/routes?url=...
type explainJSON struct {
	URL       string     `json:"url"`
	Host      string     `json:"host"`      // as matched: lower case, no port, no trailing dot
	Path      string     `json:"path"`      // as matched and forwarded to the backend
	HostLevel string     `json:"hostLevel"` // exact, wildcard, any or none
	HostRule  string     `json:"hostRule"`  // the rule host that applied
	Route     *routeJSON `json:"route"`     // null: 404
	Default   bool       `json:"default"`   // route is the default backend
	Reason    string     `json:"reason"`
}

func toRouteJSON(r *router.Route) *routeJSON {
	if r == nil {
		return nil
	}
	return &routeJSON{Host: r.Host, Path: r.Path, Type: r.Type.String(), Backend: r.Backend.ID,
		Endpoints: len(r.Backend.Endpoints), Source: r.Source}
}

// debugRoutes serves /debug/routes: the live table, or with ?url= which
// rule that URL hits and why. It is on the metrics address only, which
// should not be reachable from outside the cluster: it names every host,
// Service and Ingress.
func debugRoutes(live *router.Live) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tbl := live.Load()
		var out any
		if raw := r.URL.Query().Get("url"); raw != "" {
			u, err := parseRequestURL(raw)
			if err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
				return
			}
			// The proxy matches on the decoded path (URL.Path); so does this.
			e := tbl.Explain(u.Host, u.Path)
			out = explainJSON{URL: raw, Host: e.Host, Path: e.Path, HostLevel: string(e.HostLevel), HostRule: e.HostRule,
				Route: toRouteJSON(e.Route), Default: e.Default, Reason: e.Reason}
		} else {
			t := tableJSON{Routes: []routeJSON{}, DefaultBackend: toRouteJSON(tbl.Default())}
			for _, rt := range tbl.Routes() {
				t.Routes = append(t.Routes, *toRouteJSON(rt))
			}
			out = t
		}
		writeJSON(w, http.StatusOK, out)
	}
}

// parseRequestURL reads "http://host/path", "host/path" or "/path".
func parseRequestURL(raw string) (*url.URL, error) {
	s := raw
	if !strings.Contains(s, "://") && !strings.HasPrefix(s, "/") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("url %q: %v", raw, err)
	}
	if u.Path == "" {
		u.Path = "/"
	}
	return u, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client may have gone; nothing to do
}

// routesCommand is "portico routes": it asks a running instance's
// /debug/routes and prints the answer as a table.
func routesCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("portico routes", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("metrics-addr", "127.0.0.1:10254", "metrics address of the running portico")
	target := fs.String("url", "", "explain which rule this URL hits, e.g. http://shop.example.com/cart")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: portico routes [--metrics-addr ADDR] [--url URL]\n\nPrints the live routing table of a running portico, or which rule a URL hits and why.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "portico routes: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if err := printRoutes(stdout, *addr, *target); err != nil {
		fmt.Fprintln(stderr, "portico routes:", err)
		return 1
	}
	return 0
}

func printRoutes(w io.Writer, addr, target string) error {
	if host, port, err := net.SplitHostPort(addr); err == nil && host == "" {
		addr = net.JoinHostPort("127.0.0.1", port) // ":10254", as the server flag is usually written
	}
	q := ""
	if target != "" {
		q = "?url=" + url.QueryEscape(target)
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + addr + "/debug/routes" + q)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	if target != "" {
		var e explainJSON
		if err := json.Unmarshal(body, &e); err != nil {
			return fmt.Errorf("decoding answer: %w", err)
		}
		level := e.HostLevel
		if e.HostRule != "" {
			level += " " + e.HostRule
		}
		fmt.Fprintf(tw, "URL\t%s\n", e.URL)
		fmt.Fprintf(tw, "HOST\t%s\t(%s)\n", e.Host, level)
		fmt.Fprintf(tw, "PATH\t%s\n", e.Path)
		if e.Route == nil {
			fmt.Fprintf(tw, "ROUTE\t404\n")
		} else {
			kind := "rule"
			if e.Default {
				kind = "default backend"
			}
			fmt.Fprintf(tw, "ROUTE\t%s %s %s %s\t(%s)\n", hostOrAny(e.Route.Host), e.Route.Path, e.Route.Type, e.Route.Backend, kind)
			fmt.Fprintf(tw, "ENDPOINTS\t%d\n", e.Route.Endpoints)
			fmt.Fprintf(tw, "SOURCE\t%s\n", e.Route.Source)
		}
		fmt.Fprintf(tw, "REASON\t%s\n", e.Reason)
		return nil
	}
	var t tableJSON
	if err := json.Unmarshal(body, &t); err != nil {
		return fmt.Errorf("decoding answer: %w", err)
	}
	fmt.Fprintln(tw, "HOST\tPATH\tTYPE\tBACKEND\tENDPOINTS\tSOURCE")
	for _, r := range t.Routes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", hostOrAny(r.Host), r.Path, r.Type, r.Backend, r.Endpoints, r.Source)
	}
	if d := t.DefaultBackend; d != nil {
		fmt.Fprintf(tw, "(default)\t\t\t%s\t%d\t%s\n", d.Backend, d.Endpoints, d.Source)
	} else {
		fmt.Fprintln(tw, "(default)\t\t\t404\t\t")
	}
	return nil
}

func hostOrAny(h string) string {
	if h == "" {
		return "*"
	}
	return h
}
