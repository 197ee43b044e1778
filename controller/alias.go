package controller

import (
	"fmt"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"

	"portico.dev/portico/router"
)

// aliasAnnotations: ingress-nginx server-alias, more host names for the
// server of the Ingress's rule hosts. In ingress-nginx an alias is a name
// of the whole server (nginx server_name), so it gets every path of the
// host, whichever Ingress routes it.
var aliasAnnotations = []annotationGroup{
	{names: []string{"server-alias"}, nginx: true, parse: func(a annotations, o *ingressOptions, bad badFunc) {
		val, _ := a.get("server-alias")
		var aliases []string
		reported := false // one problem per annotation; the valid names still count
		for part := range strings.SplitSeq(val, ",") {
			alias := strings.ToLower(strings.TrimSpace(part))
			if alias == "" {
				continue
			}
			if msg := checkHost(alias); msg != "" {
				if !reported {
					bad("server-alias", msg+" (Portico takes DNS names and *.wildcards, not regular expressions); that name is skipped")
					reported = true
				}
				continue
			}
			if !slices.Contains(aliases, alias) {
				aliases = append(aliases, alias)
			}
		}
		slices.Sort(aliases) // as ingress-nginx
		o.aliases = aliases
	}},
}

// hostAliases are the aliases an Ingress gives one of its rule hosts.
type hostAliases struct {
	ing     *networkingv1.Ingress
	host    string
	aliases []string
}

// recordAliases remembers the aliases of ing's rule hosts for
// serverAliases.
func (c *compiler) recordAliases(ing *networkingv1.Ingress, aliases []string) {
	var seen []string
	for _, rule := range ing.Spec.Rules {
		host := strings.ToLower(rule.Host)
		if host == "" || checkHost(host) != "" || slices.Contains(seen, host) {
			continue
		}
		seen = append(seen, host)
		c.aliases = append(c.aliases, hostAliases{ing: ing, host: host, aliases: aliases})
	}
}

// serverAliases appends, for every alias, a copy of each route of its host
// with the alias as host. As in ingress-nginx: the oldest Ingress that sets
// aliases for a host sets them (later ones are reported), an alias that is
// the host of a route already is ignored (that server answers for it), and
// an alias is one host's only: the older claim wins. Canary routes share
// their main routes' Options, so aliases are added after canaries merged.
func (c *compiler) serverAliases(routes []router.Route) []router.Route {
	if len(c.aliases) == 0 {
		return routes
	}
	byHost := make(map[string][]int, len(routes))
	for i := range routes {
		byHost[routes[i].Host] = append(byHost[routes[i].Host], i)
	}
	setBy := make(map[string]*networkingv1.Ingress) // host -> the Ingress whose aliases it has
	claimed := make(map[string]string)              // alias -> host
	for _, ha := range c.aliases {
		if first, ok := setBy[ha.host]; ok {
			if first != ha.ing {
				c.problem(ha.ing, "AliasConflict", fmt.Sprintf("server-alias for host %q is ignored: the older Ingress %s/%s already sets its aliases",
					ha.host, first.Namespace, first.Name))
			}
			continue
		}
		setBy[ha.host] = ha.ing
		own := byHost[ha.host]
		for _, alias := range ha.aliases {
			switch {
			case alias == ha.host:
				continue
			case len(byHost[alias]) > 0:
				c.problem(ha.ing, "AliasConflict", fmt.Sprintf("server-alias %q of host %q is ignored: it is a host of its own", alias, ha.host))
				continue
			case claimed[alias] != "":
				c.problem(ha.ing, "AliasConflict", fmt.Sprintf("server-alias %q of host %q is ignored: it is already an alias of host %q",
					alias, ha.host, claimed[alias]))
				continue
			}
			claimed[alias] = ha.host
			for _, i := range own {
				r := routes[i]
				r.Host = alias
				routes = append(routes, r)
			}
		}
	}
	return routes
}
