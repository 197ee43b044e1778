// Command portico-authserver is an oauth2-proxy-like external auth service
// for end-to-end tests of auth-url. It serves on the listener passed as file
// descriptor 3 (or on -listen):
//
//	/auth     202 with X-Auth-Request-User and -Email when the "session"
//	          cookie is set, else 401 with WWW-Authenticate
//	/forbid   403
//	/start    sets the "session" cookie (user from ?user=, default alice)
//	          and redirects 302 to ?rd=
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	listen := flag.String("listen", "", "address to listen on; default: the listener on fd 3")
	flag.Parse()
	var l net.Listener
	var err error
	if *listen != "" {
		l, err = net.Listen("tcp", *listen)
	} else {
		l, err = net.FileListener(os.NewFile(3, "listener"))
	}
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/auth", func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("session")
		if err != nil || c.Value == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="portico-authserver"`)
			http.Error(w, "auth server: no session", http.StatusUnauthorized)
			return
		}
		w.Header().Set("X-Auth-Request-User", c.Value)
		w.Header().Set("X-Auth-Request-Email", c.Value+"@example.com")
		w.Header().Set("X-Auth-Original-Url", r.Header.Get("X-Original-URL"))
		w.Header().Set("Set-Cookie", "refreshed=1; Path=/")
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("/forbid", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "auth server: forbidden", http.StatusForbidden)
	})
	mux.HandleFunc("/start", func(w http.ResponseWriter, r *http.Request) {
		user := r.URL.Query().Get("user")
		if user == "" {
			user = "alice"
		}
		http.SetCookie(w, &http.Cookie{Name: "session", Value: user, Path: "/", HttpOnly: true})
		http.Redirect(w, r, r.URL.Query().Get("rd"), http.StatusFound)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute}
	log.Fatal(srv.Serve(l))
}
