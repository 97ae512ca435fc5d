package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/internal/kubetest"
)

// A manifest with files[].source deploys: the CLI sends what the sources hold, and the live
// ConfigMap has it (item 3 of the edges issue). Errors name the file the user gave.
func TestDeployInlinesFileSources(t *testing.T) {
	srv, file, ns := deployEnv(t)
	dir := filepath.Dir(file)
	withFile := strings.Replace(appManifest, "    image: ${args.image}\n",
		"    image: ${args.image}\n    files:\n      /etc/web/app.conf: {source: conf/app.conf}\n", 1)
	os.MkdirAll(filepath.Join(dir, "conf"), 0o755)
	if err := os.WriteFile(filepath.Join(dir, "conf", "app.conf"), []byte("greeting = hello from a source\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(withFile), 0o644); err != nil {
		t.Fatal(err)
	}
	mustBerth(t, srv, "deploy", "-f", file, "--env", "staging", "--wait")
	cms, err := kubetest.Client(t).CoreV1().ConfigMaps(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, cm := range cms.Items {
		for _, v := range cm.Data {
			found = found || v == "greeting = hello from a source\n"
		}
	}
	if !found {
		t.Errorf("no ConfigMap in %s holds the source's content: %+v", ns, cms.Items)
	}

	// A source outside the manifest's directory is refused before anything is sent.
	os.WriteFile(file, []byte(strings.Replace(withFile, "source: conf/app.conf", "source: /etc/passwd", 1)), 0o644)
	out, code := runBerth(t, srv, "deploy", "-f", file, "--env", "staging")
	if code == 0 || !strings.Contains(out, file+":") || !strings.Contains(out, "absolute path") {
		t.Errorf("deploy with /etc/passwd as a source: exit %d\n%s", code, out)
	}
	// The server's own refusals name the file too: a config key no level sets is only
	// known there.
	os.WriteFile(file, []byte(strings.Replace(withFile, "    files:\n", "    variables: {REGION: \"${config.REGION}\"}\n    files:\n", 1)), 0o644)
	out, code = runBerth(t, srv, "deploy", "-f", file, "--env", "staging")
	if code == 0 || !strings.Contains(out, file+":") || !strings.Contains(out, "no config REGION is set") {
		t.Errorf("deploy refused by the server: exit %d, want its message to name %s:\n%s", code, file, out)
	}
}
