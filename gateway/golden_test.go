package gateway

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1b1 "sigs.k8s.io/gateway-api/apis/v1beta1"
	"sigs.k8s.io/yaml"

	"portico.dev/portico/router"
	"portico.dev/portico/tlsstore"
)

var update = flag.Bool("update", false, "rewrite testdata/*/want.json from the translator's output")

var goldenNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// TestGolden translates each testdata/<case>/input.yaml (Gateway API and
// core objects, as a user writes them) and compares the data plane and
// status with want.json. Regenerate with: go test ./gateway -run Golden -update
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*/input.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) == 0 {
		t.Fatal("no golden cases")
	}
	for _, in := range dirs {
		dir := filepath.Dir(in)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			snap, cfg := loadSnapshot(t, data)
			got := render(t, Translate(snap, cfg))
			// Pure: a second run gives the same answer.
			if again := render(t, Translate(snap, cfg)); !bytes.Equal(got, again) {
				t.Fatal("two translations of one snapshot differ")
			}
			want := filepath.Join(dir, "want.json")
			if *update {
				if err := os.WriteFile(want, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			w, err := os.ReadFile(want)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, w) {
				t.Errorf("translation differs from %s (run with -update and review the diff):\n%s", want, lineDiff(string(w), string(got)))
			}
		})
	}
}

// loadSnapshot reads a multi-document YAML file. A ConfigMap named
// "translator-config" sets the Config: addressPool, published
// (comma-separated IPs), unavailable, services ("true").
func loadSnapshot(t testing.TB, data []byte) (*Snapshot, Config) {
	t.Helper()
	s := &Snapshot{
		Namespaces: map[string]*corev1.Namespace{},
		Services:   map[types.NamespacedName]*corev1.Service{},
		Slices:     map[types.NamespacedName][]*discoveryv1.EndpointSlice{},
		Secrets:    map[types.NamespacedName]*corev1.Secret{},
		ConfigMaps: map[types.NamespacedName]*corev1.ConfigMap{},
	}
	cfg := Config{ControllerName: "portico.dev/gateway-controller", Now: func() time.Time { return goldenNow }}
	for i, doc := range strings.Split(string(data), "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var meta struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatalf("document %d: %v", i, err)
		}
		into := func(v any) {
			if err := yaml.UnmarshalStrict([]byte(doc), v); err != nil {
				t.Fatalf("document %d (%s): %v", i, meta.Kind, err)
			}
		}
		switch meta.Kind {
		case "GatewayClass":
			o := &gwv1.GatewayClass{}
			into(o)
			s.Classes = append(s.Classes, o)
		case "Gateway":
			o := &gwv1.Gateway{}
			into(o)
			s.Gateways = append(s.Gateways, o)
		case "ListenerSet":
			o := &gwv1.ListenerSet{}
			into(o)
			s.ListenerSets = append(s.ListenerSets, o)
		case "HTTPRoute":
			o := &gwv1.HTTPRoute{}
			into(o)
			s.HTTPRoutes = append(s.HTTPRoutes, o)
		case "BackendTLSPolicy":
			o := &gwv1.BackendTLSPolicy{}
			into(o)
			s.BackendTLSPolicies = append(s.BackendTLSPolicies, o)
		case "ReferenceGrant":
			o := &gwv1b1.ReferenceGrant{}
			into(o)
			s.ReferenceGrants = append(s.ReferenceGrants, o)
		case "Namespace":
			o := &corev1.Namespace{}
			into(o)
			s.Namespaces[o.Name] = o
		case "Service":
			o := &corev1.Service{}
			into(o)
			s.Services[types.NamespacedName{Namespace: o.Namespace, Name: o.Name}] = o
		case "EndpointSlice":
			o := &discoveryv1.EndpointSlice{}
			into(o)
			k := types.NamespacedName{Namespace: o.Namespace, Name: o.Labels[discoveryv1.LabelServiceName]}
			s.Slices[k] = append(s.Slices[k], o)
		case "Secret":
			o := &corev1.Secret{}
			into(o)
			if o.Data == nil {
				o.Data = map[string][]byte{}
			}
			for k, v := range o.StringData {
				o.Data[k] = []byte(v)
			}
			// "selfsigned: host1,host2" stands for a fresh certificate.
			if hosts := o.Annotations["test/selfsigned"]; hosts != "" {
				crt, key, err := tlsstore.SelfSigned(strings.Split(hosts, ","), goldenNow.Add(-time.Hour), goldenNow.Add(24*time.Hour))
				if err != nil {
					t.Fatal(err)
				}
				o.Data["tls.crt"], o.Data["tls.key"] = crt, key
			}
			s.Secrets[types.NamespacedName{Namespace: o.Namespace, Name: o.Name}] = o
		case "ConfigMap":
			o := &corev1.ConfigMap{}
			into(o)
			if o.Name != "translator-config" {
				if hosts := o.Annotations["test/selfsigned"]; hosts != "" {
					crt, _, err := tlsstore.SelfSigned(strings.Split(hosts, ","), goldenNow.Add(-time.Hour), goldenNow.Add(24*time.Hour))
					if err != nil {
						t.Fatal(err)
					}
					o.Data = map[string]string{"ca.crt": string(crt)}
				}
				s.ConfigMaps[types.NamespacedName{Namespace: o.Namespace, Name: o.Name}] = o
				continue
			}
			cfg.Services = o.Data["services"] == "true"
			if p := o.Data["addressPool"]; p != "" {
				cfg.AddressPool = netip.MustParsePrefix(p)
			}
			for u := range strings.SplitSeq(o.Data["unavailable"], ",") {
				if k, msg, ok := strings.Cut(strings.TrimSpace(u), "="); ok {
					if cfg.Unavailable == nil {
						cfg.Unavailable = map[netip.AddrPort]string{}
					}
					cfg.Unavailable[netip.MustParseAddrPort(k)] = msg
				}
			}
			for a := range strings.SplitSeq(o.Data["published"], ",") {
				if a = strings.TrimSpace(a); a != "" {
					cfg.Published = append(cfg.Published, netip.MustParseAddr(a))
				}
			}
		default:
			t.Fatalf("document %d: kind %q not supported by the golden loader", i, meta.Kind)
		}
	}
	return s, cfg
}

// render is the stable JSON form of a result: each port's listeners with
// their routes as text, then status and problems.
func render(t testing.TB, r *Result) []byte {
	t.Helper()
	type listener struct {
		Gateway, ListenerSet, Name, Hostname string
		Certificates                         []string `json:",omitempty"`
		Routes                               []string
	}
	type port struct {
		Addr, Protocol string
		ClientCerts    string `json:",omitempty"`
		Listeners      []listener
	}
	type status struct {
		Classes      map[string]*gwv1.GatewayClassStatus
		Gateways     map[string]*gwv1.GatewayStatus
		ListenerSets map[string]*gwv1.ListenerSetStatus `json:",omitempty"`
		HTTPRoutes   map[string][]gwv1.RouteParentStatus
		// BackendTLSPolicies: the ancestors entries of each policy.
		BackendTLSPolicies map[string][]gwv1.PolicyAncestorStatus `json:",omitempty"`
	}
	st := status{Classes: r.Status.Classes, Gateways: map[string]*gwv1.GatewayStatus{}, HTTPRoutes: map[string][]gwv1.RouteParentStatus{}}
	for k, v := range r.Status.BackendTLSPolicies {
		if st.BackendTLSPolicies == nil {
			st.BackendTLSPolicies = map[string][]gwv1.PolicyAncestorStatus{}
		}
		st.BackendTLSPolicies[k.String()] = v
	}
	for k, v := range r.Status.Gateways {
		st.Gateways[k.String()] = v
	}
	if len(r.Status.ListenerSets) > 0 {
		st.ListenerSets = map[string]*gwv1.ListenerSetStatus{}
	}
	for k, v := range r.Status.ListenerSets {
		st.ListenerSets[k.String()] = v
	}
	for k, v := range r.Status.HTTPRoutes {
		st.HTTPRoutes[k.String()] = v
	}
	out := struct {
		Ports    []port
		Status   status
		Problems []Problem
		Services []GatewayService `json:",omitempty"`
	}{Ports: []port{}, Status: st, Problems: r.Problems, Services: r.Services}
	for _, p := range r.Ports {
		pp := port{Addr: p.Addr.String(), Protocol: p.Protocol.String()}
		if v := p.ClientValidation; v != nil {
			pp.ClientCerts = "AllowValidOnly"
			if v.InsecureFallback {
				pp.ClientCerts = "AllowInsecureFallback"
			}
		}
		for _, l := range p.Listeners {
			ll := listener{Gateway: l.Gateway.String(), Name: l.Name, Hostname: l.Hostname, Routes: []string{}}
			if l.ListenerSet.Name != "" {
				ll.ListenerSet = l.ListenerSet.String()
			}
			for _, c := range l.Certificates {
				ll.Certificates = append(ll.Certificates, c.Source+" "+strings.Join(c.Names, ","))
			}
			for _, rt := range l.Table.Routes() {
				ll.Routes = append(ll.Routes, describeRoute(rt))
			}
			pp.Listeners = append(pp.Listeners, ll)
		}
		out.Ports = append(out.Ports, pp)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

func describeRoute(r *router.Route) string {
	var b strings.Builder
	host := r.Host
	if host == "" {
		host = "*"
	}
	fmt.Fprintf(&b, "%s %s %s", host, r.Type, r.Path)
	c := r.Conditions
	if c.Method != "" {
		fmt.Fprintf(&b, " method=%s", c.Method)
	}
	for _, h := range c.Headers {
		fmt.Fprintf(&b, " header[%s]%s%q", h.Name, op(h.Type), h.Value)
	}
	for _, q := range c.Query {
		fmt.Fprintf(&b, " query[%s]%s%q", q.Name, op(q.Type), q.Value)
	}
	b.WriteString(" ->")
	for _, wb := range r.Backends {
		if wb.Backend == nil {
			fmt.Fprintf(&b, " (unresolved)*%d", wb.Weight)
			continue
		}
		fmt.Fprintf(&b, " %s%s*%d", wb.Backend.ID, wb.Backend.Endpoints, wb.Weight)
		if wb.Backend.Protocol != router.HTTP {
			fmt.Fprintf(&b, "(%s)", wb.Backend.Protocol)
		}
		if tl := wb.Backend.TLS; tl != nil {
			b.WriteString(describeTLS(tl))
		}
		if wb.Filters != nil {
			b.WriteString(describeFilters(wb.Filters))
		}
	}
	if r.Filters != nil {
		b.WriteString(" |" + describeFilters(r.Filters))
	}
	if o := r.Options; o != nil && o != router.DefaultOptions {
		b.WriteString(describeOptions(o))
	}
	fmt.Fprintf(&b, " (%s)", r.Source)
	return b.String()
}

// describeTLS shows a backend's TLS configuration (not its key, a hash).
func describeTLS(tl *router.BackendTLS) string {
	if tl.Invalid != "" {
		return fmt.Sprintf("{tls invalid: %s}", tl.Invalid)
	}
	ca := "configmap"
	if tl.RootCAs == nil {
		ca = "system"
	}
	s := fmt.Sprintf("{tls sni=%s ca=%s", tl.ServerName, ca)
	for _, san := range tl.SANs {
		s += " san=" + san.DNS + san.URI
	}
	if c := tl.ClientCertificate; c != nil && c.Leaf != nil {
		s += " client=" + strings.Join(c.Leaf.DNSNames, ",")
	}
	return s + "}"
}

// describeOptions shows the options a Gateway rule sets.
func describeOptions(o *router.Options) string {
	var b strings.Builder
	d := func(v time.Duration) string {
		if v == router.NoTimeout {
			return "off"
		}
		return v.String()
	}
	if o.RequestTimeout != 0 {
		fmt.Fprintf(&b, " timeout.request=%s", d(o.RequestTimeout))
	}
	if o.BackendTimeout != 0 {
		fmt.Fprintf(&b, " timeout.backend=%s", d(o.BackendTimeout))
	}
	if p := o.Retry; p != nil {
		fmt.Fprintf(&b, " retry{codes=%v attempts=%d backoff=%s}", p.Codes, p.Attempts, p.Backoff)
	}
	return b.String()
}

func op(t router.StringMatch) string {
	if t == router.MatchRegex {
		return "~"
	}
	return "="
}

func describeFilters(f *router.Filters) string {
	g := *f
	g.Mirrors = nil // their backends, shortly:
	b, _ := json.Marshal(g)
	s := string(b)
	for _, m := range f.Mirrors {
		s += fmt.Sprintf(" mirror=%s%s", m.Backend.ID, m.Backend.Endpoints)
		if m.Denominator != 0 {
			s += fmt.Sprintf("@%d/%d", m.Numerator, m.Denominator)
		}
	}
	return s
}

// lineDiff shows the first lines that differ.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 20; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %s\n  got  %s\n", i+1, wl, gl)
			shown++
		}
	}
	return b.String()
}
