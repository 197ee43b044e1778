package router

import "net/url"

// MirrorURL is a mirror target given as a URL (ingress-nginx
// mirror-target): every request of the route is copied to it.
type MirrorURL struct {
	Scheme string // "http" or "https"
	Addr   string // host:port to connect to
	// Path is the target's path. With RequestURI, the copy's request URI
	// is Path followed by the client's request URI (nginx $request_uri:
	// path and query as sent, before any rewrite); without it, Path with
	// the client's query.
	Path       string
	RequestURI bool
	Host       string // the copy's Host header (mirror-host, else the target's host)
	NoBody     bool   // mirror-request-body: off; the copy has no body
	// Namespace is the Ingress's, for metrics.
	Namespace string
}

// Target is the URL a copy of a request is sent to, for a request whose
// URI (path and query, as sent) is requestURI and query rawQuery.
func (m *MirrorURL) Target(requestURI, rawQuery string) (*url.URL, error) {
	if m.RequestURI {
		u, err := url.ParseRequestURI(m.Path + requestURI)
		if err != nil {
			return nil, err
		}
		u.Scheme, u.Host = m.Scheme, m.Addr
		return u, nil
	}
	return &url.URL{Scheme: m.Scheme, Host: m.Addr, Path: m.Path, RawQuery: rawQuery}, nil
}
