package deploy

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"

	"portico.dev/portico/test/harness"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd, args string
}

// stage is one FROM ... [AS name] and its instructions.
type stage struct {
	from, name string
	body       []instruction
}

// parseDockerfile is enough of the Dockerfile grammar for Portico's file:
// comments, line continuations, instructions, stages.
func parseDockerfile(t *testing.T, text string) []stage {
	t.Helper()
	var stages []stage
	var cur string
	flush := func() {
		line := strings.TrimSpace(cur)
		cur = ""
		if line == "" {
			return
		}
		cmd, args, _ := strings.Cut(line, " ")
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			s := stage{from: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				s.name = f[2]
			}
			stages = append(stages, s)
			return
		}
		if len(stages) == 0 {
			if in.cmd != "ARG" {
				t.Fatalf("Dockerfile: %s before FROM", in.cmd)
			}
			return
		}
		stages[len(stages)-1].body = append(stages[len(stages)-1].body, in)
	}
	for raw := range strings.SplitSeq(text, "\n") {
		line := strings.TrimSpace(raw)
		if strings.HasPrefix(line, "#") {
			continue
		}
		if rest, ok := strings.CutSuffix(line, `\`); ok {
			cur += rest + " "
			continue
		}
		cur += line
		flush()
	}
	flush()
	return stages
}

// TestDockerfile checks the Dockerfile (no Docker engine here, so it is not
// built as an image): it builds ./cmd/portico statically with -trimpath and
// the version injected, on the Go of go.mod, and the runtime stage runs that
// binary as a non-root user. Then it runs the Dockerfile's own go build
// command and checks the result: a static ELF that reports the injected
// version.
func TestDockerfile(t *testing.T) {
	text, err := os.ReadFile(repoPath(t, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	stages := parseDockerfile(t, string(text))
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a multi-stage build", len(stages))
	}

	// The build stage: exactly one go build, of ./cmd/portico.
	var build *stage
	var buildCmd string
	for i := range stages {
		for _, in := range stages[i].body {
			if in.cmd == "RUN" && strings.Contains(in.args, "go build") {
				if build != nil {
					t.Fatalf("more than one go build")
				}
				build, buildCmd = &stages[i], in.args
			}
		}
	}
	if build == nil {
		t.Fatal("no RUN go build")
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-X main.version=${VERSION}", "./cmd/portico"} {
		if !strings.Contains(buildCmd, want) {
			t.Errorf("go build %q lacks %s", buildCmd, want)
		}
	}
	if !slices.ContainsFunc(build.body, func(in instruction) bool { return in.cmd == "ARG" && strings.HasPrefix(in.args, "VERSION") }) {
		t.Errorf("build stage has no ARG VERSION")
	}
	goMod, err := os.ReadFile(repoPath(t, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goVer := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(goMod)
	if goVer == nil || !strings.HasPrefix(build.from, "golang:"+string(goVer[1])) {
		t.Errorf("build stage FROM %s, want golang:%s (go.mod)", build.from, goVer[1])
	}
	outPath := regexp.MustCompile(`-o\s+(\S+)`).FindStringSubmatch(buildCmd)
	if outPath == nil {
		t.Fatalf("go build %q has no -o", buildCmd)
	}

	// The runtime stage: the binary built above, as ENTRYPOINT, non-root.
	final := stages[len(stages)-1]
	if final.name == build.name && build.name != "" {
		t.Fatalf("the last stage is the build stage")
	}
	var copied, entrypoint, user string
	for _, in := range final.body {
		switch in.cmd {
		case "COPY":
			f := strings.Fields(in.args)
			if len(f) == 3 && f[0] == "--from="+build.name && f[1] == outPath[1] {
				copied = f[2]
			}
		case "ENTRYPOINT":
			entrypoint = in.args
		case "USER":
			user = in.args
		case "RUN":
			t.Errorf("RUN in the runtime stage (%s): a minimal image has no shell", in.args)
		}
	}
	if copied == "" {
		t.Errorf("the runtime stage does not COPY --from=%s %s", build.name, outPath[1])
	}
	if entrypoint != `["`+copied+`"]` {
		t.Errorf(`ENTRYPOINT %s, want ["%s"] (exec form)`, entrypoint, copied)
	}
	uid, _, _ := strings.Cut(user, ":")
	if uid == "" || uid == "0" || uid == "root" {
		t.Errorf("USER %q: want a non-root user", user)
	}

	// Run the Dockerfile's own build command (output redirected).
	bin := filepath.Join(t.TempDir(), "portico")
	cmdline := strings.Replace(buildCmd, "-o "+outPath[1], "-o "+bin, 1)
	cmd := exec.Command("sh", "-c", cmdline)
	cmd.Dir = repoPath(t, ".")
	cmd.Env = append(os.Environ(), "VERSION=v9.8.7-test")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the Dockerfile's build command failed: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil || strings.TrimSpace(string(out)) != "portico v9.8.7-test" {
		t.Errorf("portico version = %q (%v), want the injected v9.8.7-test", out, err)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary is dynamically linked (program header %v)", p.Type)
		}
	}
}

// TestManifestFlags checks that every flag the rendered manifests pass to
// the container is one the binary accepts: each name is listed by
// portico --help, and the binary parses the whole argument list (it exits
// 0 on the --help that follows them; an unknown flag or a bad value exits 2).
func TestManifestFlags(t *testing.T) {
	bin, err := harness.PorticoBinary() // go build ./cmd/portico, the package the Dockerfile builds
	if err != nil {
		t.Fatal(err)
	}
	help, err := exec.Command(bin, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("portico --help: %v\n%s", err, help)
	}
	known := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^  --([a-z0-9-]+)$`).FindAllSubmatch(help, -1) {
		known[string(m[1])] = true
	}
	if len(known) < 10 || !known["http-addr"] {
		t.Fatalf("could not read the flags from portico --help:\n%s", help)
	}
	for _, tc := range []struct {
		overlay    string
		components []string
	}{{overlayNodePort, nil}, {overlayDaemonSet, nil}, {overlayNodePort, []string{componentACME}}, {overlayDaemonSet, []string{componentACME}}} {
		r := render(t, tc.overlay, tc.components...)
		var args []string
		for _, o := range r.objs {
			switch o.GetKind() {
			case "Deployment":
				var d appsv1.Deployment
				r.find(t, "Deployment", o.GetName(), &d)
				args = d.Spec.Template.Spec.Containers[0].Args
			case "DaemonSet":
				var d appsv1.DaemonSet
				r.find(t, "DaemonSet", o.GetName(), &d)
				args = d.Spec.Template.Spec.Containers[0].Args
			}
		}
		if len(args) == 0 {
			t.Fatalf("%s %v: no container args rendered", tc.overlay, tc.components)
		}
		for _, a := range args {
			name, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
			if !strings.HasPrefix(a, "--") || !known[name] {
				t.Errorf("%s %v: arg %q is not a flag portico accepts", tc.overlay, tc.components, a)
			}
		}
		if out, err := exec.Command(bin, append(args, "--help")...).CombinedOutput(); err != nil {
			t.Errorf("%s %v: portico rejects the manifest's args %v: %v\n%s", tc.overlay, tc.components, args, err, out)
		}
	}
}
