package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"

	"portico.dev/portico/controller"
)

// stringsFlag is a repeatable flag.
type stringsFlag []string

func (s *stringsFlag) String() string     { return strings.Join(*s, ",") }
func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }

// nginxCheckCommand is `portico nginx-check`: which annotations of a set of
// Ingresses Portico honours. Exit status 0: all are honoured; 1: some are
// ignored or invalid (or Ingresses could not be read); 2: usage.
func nginxCheckCommand(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("portico nginx-check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var files stringsFlag
	fs.Var(&files, "f", "a YAML or JSON file of Ingresses (kind Ingress or List; several documents allowed; - for standard input); repeatable. Without -f the Ingresses are listed from the cluster")
	kubeconfig := fs.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig for reading Ingresses from the cluster (default $KUBECONFIG, else in-cluster)")
	namespace := fs.String("n", "", "only this namespace (cluster mode; default all namespaces)")
	all := fs.Bool("all", false, "also list annotations that are honoured without a difference")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: portico nginx-check [-f FILE]... [--kubeconfig PATH] [-n NAMESPACE] [--all]\n\n"+
			"Reads Ingresses and prints, for each nginx.ingress.kubernetes.io/ and portico.dev/ annotation,\n"+
			"whether Portico honours it, ignores it (and why) or refuses its value.\n"+
			"Exit status: 0 all honoured, 1 some ignored or invalid, 2 usage error.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "portico nginx-check: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	var ings []networkingv1.Ingress
	var err error
	if len(files) > 0 {
		ings, err = readIngressFiles(files, stdin)
	} else {
		ings, err = listIngresses(*kubeconfig, *namespace)
	}
	if err != nil {
		fmt.Fprintln(stderr, "portico nginx-check:", err)
		return 1
	}
	if report(stdout, ings, *all) {
		return 1
	}
	return 0
}

// report prints the checks and reports whether any annotation is not
// honoured.
func report(w io.Writer, ings []networkingv1.Ingress, all bool) (notHonoured bool) {
	slices.SortFunc(ings, func(a, b networkingv1.Ingress) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INGRESS\tANNOTATION\tPORTICO\tNOTE")
	counts := map[controller.CheckStatus]int{}
	for _, ing := range ings {
		ns := ing.Namespace
		if ns == "" {
			ns = "default"
		}
		for _, c := range controller.CheckAnnotations(ing.Annotations) {
			counts[c.Status]++
			if c.Status != controller.Honoured {
				notHonoured = true
			}
			if c.Status == controller.Honoured && c.Note == "" && !all {
				continue
			}
			status := c.Status.String()
			if c.Status == controller.Honoured && c.Note != "" {
				status = "differs"
			}
			fmt.Fprintf(tw, "%s/%s\t%s\t%s\t%s\n", ns, ing.Name, c.Key, status, oneLine(c.Note))
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%d Ingresses, %d annotations: %d honoured, %d ignored, %d invalid\n",
		len(ings), counts[controller.Honoured]+counts[controller.Ignored]+counts[controller.Invalid],
		counts[controller.Honoured], counts[controller.Ignored], counts[controller.Invalid])
	return notHonoured
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// readIngressFiles decodes every Ingress in the files: documents of kind
// Ingress, and the items of kind List or IngressList; other kinds are
// skipped.
func readIngressFiles(files []string, stdin io.Reader) ([]networkingv1.Ingress, error) {
	var out []networkingv1.Ingress
	for _, name := range files {
		var r io.Reader
		if name == "-" {
			r = stdin
		} else {
			f, err := os.Open(name)
			if err != nil {
				return nil, err
			}
			defer f.Close()
			r = f
		}
		ings, err := decodeIngresses(r)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, ings...)
	}
	return out, nil
}

func decodeIngresses(r io.Reader) ([]networkingv1.Ingress, error) {
	d := utilyaml.NewYAMLOrJSONDecoder(bufio.NewReader(io.LimitReader(r, 256<<20)), 4096)
	var out []networkingv1.Ingress
	for doc := 1; ; doc++ {
		var raw struct {
			metav1.TypeMeta `json:",inline"`
			Items           []runtime.RawExtension `json:"items"`
		}
		var ext runtime.RawExtension
		if err := d.Decode(&ext); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("document %d: %w", doc, err)
		}
		if len(ext.Raw) == 0 || string(ext.Raw) == "null" {
			continue
		}
		if err := utilyaml.Unmarshal(ext.Raw, &raw); err != nil {
			return nil, fmt.Errorf("document %d: %w", doc, err)
		}
		docs := []runtime.RawExtension{ext}
		switch raw.Kind {
		case "Ingress":
		case "List", "IngressList":
			docs = raw.Items
		default:
			continue
		}
		for i, item := range docs {
			var ing networkingv1.Ingress
			if err := utilyaml.Unmarshal(item.Raw, &ing); err != nil {
				return nil, fmt.Errorf("document %d item %d: %w", doc, i, err)
			}
			if ing.Kind == "Ingress" || (raw.Kind == "IngressList" && ing.Kind == "") {
				out = append(out, ing)
			}
		}
	}
}

func listIngresses(kubeconfig, namespace string) ([]networkingv1.Ingress, error) {
	rc, err := restConfig(kubeconfig)
	if err != nil {
		return nil, err
	}
	rc.Timeout = 30 * time.Second
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out []networkingv1.Ingress
	opts := metav1.ListOptions{Limit: 500}
	for {
		l, err := cs.NetworkingV1().Ingresses(namespace).List(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("listing Ingresses: %w", err)
		}
		out = append(out, l.Items...)
		if l.Continue == "" {
			return out, nil
		}
		opts.Continue = l.Continue
	}
}
