package gatewayconformance

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	confv1 "sigs.k8s.io/gateway-api/conformance/apis/v1"

	"portico.dev/portico/test/harness"
)

// implementation identifies Portico in the report. The version is the
// commit under test (see gitVersion); -version overrides it.
func implementation(t *testing.T) confv1.Implementation {
	return confv1.Implementation{
		Organization: "portico.dev",
		Project:      "portico",
		URL:          "https://portico.dev/portico",
		Version:      gitVersion(t),
		Contact:      []string{"https://portico.dev/portico/issues"},
	}
}

// gitVersion names the commit under test the way Go names an untagged
// commit, a semver pseudo-version: v0.0.0-<commit time UTC>-<12 hex of the
// hash>, plus "+dirty" when tracked files differ from it. The upstream
// reports README wants a snapshot, never a branch name.
func gitVersion(t *testing.T) string {
	t.Helper()
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	git := func(args ...string) string {
		cmd := exec.Command("git", append([]string{"-C", root}, args...)...)
		cmd.Env = append(os.Environ(), "TZ=UTC")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("git %s: %v (the report needs the commit under test)", strings.Join(args, " "), err)
		}
		return strings.TrimSpace(string(out))
	}
	v := "v0.0.0-" + git("show", "-s", "--format=%cd", "--date=format-local:%Y%m%d%H%M%S", "HEAD") +
		"-" + git("rev-parse", "--short=12", "HEAD")
	if git("status", "--porcelain", "--untracked-files=no") != "" {
		v += "+dirty"
	}
	return v
}
