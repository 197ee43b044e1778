package router

import "strings"

// CleanPath returns the canonical form of a decoded request path, the form
// Portico matches on and forwards: it starts with '/', runs of '/' are folded
// into one, "." and ".." segments are resolved (never above the root), and a
// trailing slash is kept, because Exact "/foo" and "/foo/" are different
// rules. Matching on the very path the backend receives is what stops
// "/public/../admin" from reaching a backend that only an "/admin" rule may
// reach. A path that is already clean is returned without allocating.
func CleanPath(p string) string {
	if isClean(p) {
		return p
	}
	buf := make([]byte, 1, len(p)+1)
	buf[0] = '/'
	// Where each written segment starts, so ".." can drop the last one.
	var stack [32]int
	segs := stack[:0]
	for rest := p; rest != ""; {
		var seg string
		seg, rest, _ = strings.Cut(rest, "/")
		switch seg {
		case "", ".":
		case "..":
			if n := len(segs); n > 0 {
				buf = buf[:segs[n-1]]
				segs = segs[:n-1]
			}
		default:
			segs = append(segs, len(buf))
			buf = append(buf, seg...)
			buf = append(buf, '/')
		}
	}
	// buf ends in '/'. Keep it only when the input named a directory.
	if len(buf) > 1 && !endsAsDir(p) {
		buf = buf[:len(buf)-1]
	}
	return string(buf)
}

func endsAsDir(p string) bool {
	return strings.HasSuffix(p, "/") || strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..")
}

// isClean reports whether p needs no rewriting. It is the hot path: almost
// every real request path is already clean.
func isClean(p string) bool {
	if len(p) == 0 || p[0] != '/' {
		return false
	}
	for i := 1; i < len(p); i++ {
		if p[i-1] != '/' {
			continue
		}
		switch p[i] {
		case '/':
			return false
		case '.':
			// "/." or "/.." followed by the end or a slash is a dot segment.
			rest := p[i+1:]
			if rest == "" || rest[0] == '/' || rest == "." || strings.HasPrefix(rest, "./") {
				return false
			}
		}
	}
	return true
}
