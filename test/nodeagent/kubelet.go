package nodeagent

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"portico.dev/portico/tlsstore"
)

// kubeletServer is the agent's kubelet-style HTTPS endpoint: the API server
// calls it for kubectl logs (pods/log). It listens on the Node's
// InternalIP with a self-signed certificate, which the API server accepts
// because it is started without --kubelet-certificate-authority.
type kubeletServer struct {
	addr string
	srv  *http.Server
}

// followPoll is how often a followed log is checked for new output.
const followPoll = 100 * time.Millisecond

func startKubeletServer(a *Agent) (*kubeletServer, error) {
	now := time.Now()
	certPEM, keyPEM, err := tlsstore.SelfSigned([]string{a.NodeName, "localhost"}, now.Add(-time.Hour), now.Add(7*24*time.Hour))
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", net.JoinHostPort(hostIP, "0")) // the kernel's free port: no race
	if err != nil {
		return nil, fmt.Errorf("kubelet endpoint: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /containerLogs/{ns}/{pod}/{container}", a.serveLogs)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	for _, p := range []string{"/exec/", "/attach/", "/portForward/", "/run/"} {
		mux.HandleFunc(p, refuse)
	}
	s := &kubeletServer{addr: l.Addr().String(), srv: &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}},
		ErrorLog:          log.New(a.log, "nodeagent: kubelet endpoint: ", 0),
	}}
	go func() { _ = s.srv.ServeTLS(l, "", "") }()
	return s, nil
}

func (s *kubeletServer) close() { _ = s.srv.Close() }

// refuse answers exec, attach, port-forward and run: there is no container
// runtime to run a command in.
func refuse(w http.ResponseWriter, r *http.Request) {
	verb := strings.Trim(strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)[0], "/")
	http.Error(w, fmt.Sprintf("portico test node agent: %s is not supported (processes, no container runtime; see docs/testing.md)", verb),
		http.StatusNotImplemented)
}

// serveLogs writes a container's output: the current run's, or with
// previous=true the run before. tailLines, limitBytes and follow work as in
// a kubelet; timestamps and sinceSeconds are ignored.
func (a *Agent) serveLogs(w http.ResponseWriter, r *http.Request) {
	ns, name, cname := r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container")
	c := a.findContainer(ns, name, cname)
	if c == nil {
		http.Error(w, fmt.Sprintf("container %q in pod %s/%s not found on node %s", cname, ns, name, a.NodeName), http.StatusNotFound)
		return
	}
	q := r.URL.Query()
	path, proc, err := c.logPath(q.Get("previous") == "true")
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	data, err := os.ReadFile(path)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if n, err := strconv.Atoi(q.Get("tailLines")); err == nil && n >= 0 {
		data = lastLines(data, n)
	}
	limit := int64(-1)
	if n, err := strconv.ParseInt(q.Get("limitBytes"), 10, 64); err == nil && n > 0 {
		limit = n
	}
	out := io.Writer(w)
	if limit >= 0 {
		out = &limitWriter{w: w, n: limit}
	}
	w.Header().Set("Content-Type", "text/plain")
	offset := int64(len(data))
	if _, err := out.Write(data); err != nil || q.Get("follow") != "true" || proc == nil {
		return
	}
	// For a tail, follow from the end of the file, not the end of the tail.
	if fi, err := os.Stat(path); err == nil {
		offset = fi.Size()
	}
	follow(r.Context(), w, out, path, offset, proc)
}

// follow copies what the program writes after offset until it exits (and
// its output is drained), the client leaves or the limit is reached.
func follow(ctx context.Context, w http.ResponseWriter, out io.Writer, path string, offset int64, proc *process) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return
	}
	flusher, _ := w.(http.Flusher)
	for {
		exited := false
		select {
		case <-proc.exited:
			exited = true
		default:
		}
		if _, err := io.Copy(out, f); err != nil {
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
		if exited {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-proc.exited:
		case <-time.After(followPoll):
		}
	}
}

func (a *Agent) findContainer(ns, name, cname string) *container {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range a.runners {
		if r.ns != ns || r.pod != name {
			continue
		}
		for _, c := range r.containers {
			if c.spec.Name == cname {
				return c
			}
		}
	}
	return nil
}

func lastLines(b []byte, n int) []byte {
	if n == 0 {
		return nil
	}
	end := len(b)
	if end > 0 && b[end-1] == '\n' {
		end--
	}
	for i := 0; i < n; i++ {
		j := bytes.LastIndexByte(b[:end], '\n')
		if j < 0 {
			return b
		}
		end = j
	}
	return b[end+1:]
}

// limitWriter writes at most n bytes, then fails.
type limitWriter struct {
	w io.Writer
	n int64
}

var errLimit = errors.New("limitBytes reached")

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errLimit
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.w.Write(p)
	l.n -= int64(n)
	if err == nil && l.n <= 0 {
		err = errLimit
	}
	return n, err
}

// ContainerLog returns the output of a container's current (or last) run,
// for a test to show when it fails; "" if there is none.
func (a *Agent) ContainerLog(ns, pod, container string) string {
	c := a.findContainer(ns, pod, container)
	if c == nil {
		return ""
	}
	path, _, err := c.logPath(false)
	if err != nil {
		return err.Error()
	}
	b, _ := os.ReadFile(path)
	return string(b)
}
