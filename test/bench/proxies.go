package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ports of one proxy under test.
type ports struct{ http, https int }

// target is a proxy under test.
type target struct {
	name  string
	ports ports
	proc  *proc
	pprof string // Portico's CPU profile URL when -pprof is set
}

const extraHosts = 1000 // h0.bench.test ... h999.bench.test, configured in every proxy

// nginxConfig is nginx set up as an ingress controller would set it up for
// these routes: one worker, keep-alive to the upstream, X-Forwarded-*
// headers, no access log, the same certificate.
func nginxConfig(dir string, p ports, upstream, cert, key string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, `worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/nginx-error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  server_names_hash_max_size 4096;
  server_names_hash_bucket_size 128;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_certificate %[2]s;
  ssl_certificate_key %[3]s;
  upstream be {
    server %[4]s;
    keepalive 256;
    keepalive_requests 1000000;
  }
`, dir, cert, key, upstream)
	server := func(name string, def bool) {
		d := ""
		if def {
			d = " default_server"
		}
		fmt.Fprintf(&b, `  server {
    listen 127.0.0.1:%d%s;
    listen 127.0.0.1:%d ssl%s;
    server_name %s;
    location / {
      proxy_pass http://be;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $host;
      proxy_set_header X-Real-IP $remote_addr;
    }
  }
`, p.http, d, p.https, d, name)
	}
	server("bench.test", true)
	for i := range extraHosts {
		server(fmt.Sprintf("h%d.bench.test", i), false)
	}
	b.WriteString("}\n")
	for _, sub := range []string{"body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return "", err
		}
	}
	path := filepath.Join(dir, "nginx.conf")
	return path, os.WriteFile(path, []byte(b.String()), 0o644)
}

// haproxyConfig is HAProxy with one thread, connection reuse to the
// upstream, forwarded headers and host routing through a map (its idiom for
// many hosts).
func haproxyConfig(dir string, p ports, upstream, pem string) (string, error) {
	var m strings.Builder
	m.WriteString("bench.test be\n")
	for i := range extraHosts {
		fmt.Fprintf(&m, "h%d.bench.test be\n", i)
	}
	mapPath := filepath.Join(dir, "hosts.map")
	if err := os.WriteFile(mapPath, []byte(m.String()), 0o644); err != nil {
		return "", err
	}
	cfg := fmt.Sprintf(`global
  nbthread 1
  maxconn 8000
  tune.ssl.default-dh-param 2048
  ssl-default-bind-options ssl-min-ver TLSv1.2

defaults
  mode http
  timeout connect 5s
  timeout client 120s
  timeout server 120s
  timeout http-keep-alive 120s
  option http-keep-alive
  http-reuse always

frontend fe
  bind 127.0.0.1:%d
  bind 127.0.0.1:%d ssl crt %s alpn http/1.1
  option forwardfor
  http-request set-header X-Forwarded-Proto https if { ssl_fc }
  http-request set-header X-Forwarded-Proto http if !{ ssl_fc }
  http-request set-header X-Forwarded-Host %%[req.hdr(host)]
  use_backend %%[req.hdr(host),lower,field(1,:),map(%s)]

backend be
  server s1 %s
`, p.http, p.https, pem, mapPath, upstream)
	path := filepath.Join(dir, "haproxy.cfg")
	return path, os.WriteFile(path, []byte(cfg), 0o644)
}
