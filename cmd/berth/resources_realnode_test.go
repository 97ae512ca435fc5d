package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	neturl "net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/internal/kubetest"
	"github.com/berth-dev/berth/internal/pgadmin"
	"github.com/berth-dev/berth/internal/store/pgtest"
)

// podReachablePostgres gives the real node's pods (and the host) a PostgreSQL: the test
// binary's throwaway server, checking passwords, behind a TCP forwarder on the pod
// bridge's address. It returns the DSN of a role that may create databases and roles, as
// a platform admin registers it with `berth envs set-postgres`.
func podReachablePostgres(t *testing.T, cluster *kubetest.RealNodeCluster) string {
	t.Helper()
	super := pgtest.NewDatabase(t)
	pgtest.RequirePasswords(t)
	host, port, err := pgadmin.ParseDSN(super)
	if err != nil {
		t.Fatal(err)
	}
	db := super[strings.LastIndex(super, "/")+1 : strings.Index(super, "?")]
	role, password := db+"_admin", "admin-"+db+"-pw"
	conn, err := pgx.Connect(t.Context(), super)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), fmt.Sprintf("CREATE ROLE %s LOGIN CREATEDB CREATEROLE PASSWORD '%s'", role, password)); err != nil {
		t.Fatal(err)
	}
	fwd := forward(t, net.JoinHostPort(cluster.Node.IP, "0"), net.JoinHostPort(host, fmt.Sprint(port)))
	_, fport, _ := net.SplitHostPort(fwd)
	return pgadmin.URL(cluster.Node.IP, mustAtoi(t, fport), db, role, password, map[string][]string{"sslmode": {"disable"}})
}

func mustAtoi(t *testing.T, s string) int {
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// forward accepts TCP connections on listen and copies them to and from target until t
// ends; it returns the address it listens on.
func forward(t *testing.T, listen, target string) string {
	t.Helper()
	l, err := net.Listen("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	track := func(c net.Conn, on bool) {
		mu.Lock()
		defer mu.Unlock()
		if on {
			conns[c] = true
		} else {
			delete(conns, c)
		}
	}
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			out, err := net.DialTimeout("tcp", target, 5*time.Second)
			if err != nil {
				in.Close()
				continue
			}
			track(in, true)
			track(out, true)
			wg.Add(2)
			pipe := func(dst, src net.Conn) {
				defer wg.Done()
				io.Copy(dst, src)
				dst.Close()
				src.Close()
				track(dst, false)
				track(src, false)
			}
			go pipe(in, out)
			go pipe(out, in)
		}
	}()
	return l.Addr().String()
}

// notesManifest is examples/notes as app name of team shop, with every built-in resource
// type: postgres, dns and route (its host name and Ingress), a service (the app called
// peer, read only by a variable) and a volume.
func notesManifest(name string) string {
	return fmt.Sprintf(`apiVersion: berth.dev/v1
metadata: {name: %s, team: shop}
args: {version: "1"}
containers:
  web:
    image: registry.berth.localhost/notes:${args.version}
    variables:
      DATABASE_URL: ${resources.db.url}
      DB_HOST: ${resources.db.host}
      PEER_URL: ${resources.peer.url}
      HOST: ${resources.dns.host}
    volumes:
      /data: {source: data}
    readinessProbe: {httpGet: {path: /ready, port: 8080}}
service:
  ports: {http: {port: 80, targetPort: 8080}}
resources:
  db: {type: postgres}
  dns: {type: dns}
  web: {type: route, params: {host: "${resources.dns.host}", port: http}}
  peer: {type: service, params: {app: web}}
  data: {type: volume}
`, name)
}

// TestRealNodeResources deploys apps whose resources Berth provisions, on the real node:
// a postgres database the app writes to and reads from (and the test reads with the
// credentials the pod got), reused by the next deploy and separate for a second app; a
// route answering through the ingress controller under the environment's base domain; an
// app calling another through the URL of its service resource; a redis type from a
// platform provisioner file; a type nothing provisions, refused before anything is
// applied. No live object carries an offline placeholder or a secret value.
func TestRealNodeResources(t *testing.T) {
	srv, cluster, ns := realNodeEnv(t)
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dsn := podReachablePostgres(t, cluster)
	base := ns + ".localhost"
	if out, code := runBerth(t, srv, "dev", "image", "build", filepath.Join(root, "examples", "notes"), "-t", "notes:1", "--state-dir", cluster.State.Dir); code != 0 {
		t.Fatalf("image build: exit %d\n%s", code, out)
	}
	// Without a registered PostgreSQL server a postgres resource fails the deploy, before
	// anything is applied, saying how to register one.
	out, code := runBerth(t, srv, "deploy", "-f", writeManifest(t, notesManifest("early")), "--env", "staging", "--wait")
	if code == 0 || !strings.Contains(out, "no provisioner for resource type postgres in environment staging: no PostgreSQL server is registered") ||
		!strings.Contains(out, "berth envs set-postgres staging") {
		t.Errorf("deploy before set-postgres: exit %d\n%s", code, out)
	}
	for _, args := range [][]string{
		{"envs", "set-postgres", "staging", "--dsn", dsn},
		{"envs", "update", "staging", "--base-domain", base},
	} {
		if out, code := runBerth(t, srv, args...); code != 0 {
			t.Fatalf("%v: exit %d\n%s", args[:3], code, strings.ReplaceAll(out, dsn, "DSN"))
		}
	}
	cs := cluster.Client(t)
	deploy := func(t *testing.T, manifest string, args ...string) string {
		t.Helper()
		out, code := runBerth(t, srv, append([]string{"deploy", "-f", writeManifest(t, manifest), "--env", "staging", "--wait"}, args...)...)
		if code != 0 || !strings.Contains(out, "succeeded") {
			t.Fatalf("deploy: exit %d\n%s", code, out)
		}
		return out
	}

	// The app behind the service resource, then notes with every built-in type.
	deploy(t, helloManifest("web", "web."+base))
	deploy(t, notesManifest("notes"))
	host := "notes.shop." + base
	post := func(body string) {
		t.Helper()
		get(t, "http://"+cluster.Node.Ingress+"/ready", host)
		req, _ := http.NewRequest(http.MethodPost, "http://"+cluster.Node.Ingress+"/notes", strings.NewReader(body))
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST /notes through the route: %s %s", resp.Status, b)
		}
	}
	post("written through the route")
	if body := get(t, "http://"+cluster.Node.Ingress+"/notes", host); !strings.Contains(body, "written through the route") {
		t.Fatalf("GET /notes through the route: %q", body)
	}

	// What the pod got: DATABASE_URL from the Secret notes-resources, which opens the
	// database the app wrote to; the other outputs as text.
	dep, err := cs.AppsV1().Deployments(ns).Get(t.Context(), "notes", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
		env[e.Name] = e.Value
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			env[e.Name] = "secret:" + e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
		}
	}
	want := map[string]string{
		"DATABASE_URL": "secret:notes-resources/db.url",
		"DB_HOST":      cluster.Node.IP,
		"PEER_URL":     "http://web." + ns + ".svc.cluster.local",
		"HOST":         host,
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("env %s = %q, want %q", k, env[k], v)
		}
	}
	if vols := dep.Spec.Template.Spec.Volumes; len(vols) == 0 || vols[0].EmptyDir == nil {
		t.Errorf("the volume of an environment without a storage class is not an emptyDir: %+v", vols)
	}
	sec, err := cs.CoreV1().Secrets(ns).Get(t.Context(), "notes-resources", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	url := string(sec.Data["db.url"])
	c, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatalf("connect with the credentials the pod got: %v", err)
	}
	var note string
	if err := c.QueryRow(t.Context(), "SELECT body FROM notes ORDER BY id LIMIT 1").Scan(&note); err != nil || note != "written through the route" {
		t.Fatalf("the note in the app's database: %q, %v", note, err)
	}
	c.Close(context.Background())
	wrong := strings.Replace(url, "@", "x@", 1)
	if c, err := pgx.Connect(t.Context(), wrong); err == nil {
		c.Close(context.Background())
		t.Fatal("a wrong password connects: the server does not check passwords, so the test proves nothing")
	}

	// No rendered object holds a placeholder or the password, in the cluster or in what
	// Berth stored and shows.
	parsed, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	password, _ := parsed.User.Password()
	for _, args := range [][]string{{"history", "notes", "--env", "staging", "-o", "json"}, {"status", "notes", "--env", "staging", "-o", "json"}} {
		out, _ := runBerth(t, srv, args...)
		if strings.Contains(out, "<offline:") || strings.Contains(out, password) {
			t.Errorf("berth %v shows a placeholder or the password:\n%s", args, out)
		}
	}
	depJSON, _ := runKubectlJSON(t, cluster, ns, "deployments", "notes")
	if strings.Contains(depJSON, "<offline:") || strings.Contains(depJSON, password) {
		t.Errorf("the live Deployment carries a placeholder or the password")
	}
	if strings.Contains(srv.out.String(), password) {
		t.Errorf("the server logged the password")
	}

	// A second deploy keeps the database (the note is still there); a second app gets its own.
	deploy(t, notesManifest("notes"), "--set", "version=1")
	if body := get(t, "http://"+cluster.Node.Ingress+"/notes", host); !strings.Contains(body, "written through the route") {
		t.Fatalf("after a second deploy: %q", body)
	}
	// Rotation: a new password reaches the pods through the refresh deploy; the old one no
	// longer opens the database, which still holds the note.
	if out, code := runBerth(t, srv, "resources", "rotate", "db", "--app", "notes", "--env", "staging", "--wait"); code != 0 || !strings.Contains(out, "succeeded") {
		t.Fatalf("resources rotate: exit %d\n%s", code, out)
	}
	rotated, err := cs.CoreV1().Secrets(ns).Get(t.Context(), "notes-resources", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(rotated.Data["db.url"]) == url {
		t.Fatal("the rotated password is the old one")
	}
	if c, err := pgx.Connect(t.Context(), url); err == nil {
		c.Close(context.Background())
		t.Error("the old password still opens the database after the rotation")
	}
	if body := get(t, "http://"+cluster.Node.Ingress+"/notes", host); !strings.Contains(body, "written through the route") {
		t.Fatalf("after the rotation: %q", body)
	}
	if out, code := runBerth(t, srv, "resources", "delete", "db", "--app", "notes", "--env", "staging", "--force"); code != 2 || !strings.Contains(out, "would drop postgres database") {
		t.Errorf("delete without --confirm: exit %d\n%s", code, out)
	}

	deploy(t, notesManifest("notes2"))
	sec2, err := cs.CoreV1().Secrets(ns).Get(t.Context(), "notes2-resources", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(sec2.Data["db.url"]) == url || !strings.Contains(string(sec2.Data["db.url"]), "notes2") {
		t.Errorf("the second app's database URL is not its own")
	}
	if body := get(t, "http://"+cluster.Node.Ingress+"/notes", "notes2.shop."+base); body != "[]\n" {
		t.Errorf("the second app sees notes it did not write: %q", body)
	}

	// App A calls app B through the URL its service resource gave.
	deploy(t, strings.Replace(helloManifest("caller", "caller."+base), "HELLO_UPSTREAM: ${args.upstream}", "HELLO_UPSTREAM: ${resources.backend.url}", 1)+
		"resources:\n  backend: {type: service, params: {app: web}}\n")
	if body := get(t, "http://"+cluster.Node.Ingress+"/upstream", "caller."+base); !strings.Contains(body, "hello from berth") {
		t.Errorf("caller's GET of its service resource's url: %q", body)
	}

	// The example platform provisioner file (docs/provisioners): its redis's secret output
	// reaches the pod as a reference.
	prov := filepath.Join(root, "docs", "provisioners", "platform.provisioners.yaml")
	if out, code := runBerth(t, srv, "provisioners", "set", "--env", "staging", "-f", prov); code != 0 {
		t.Fatalf("provisioners set: exit %d\n%s", code, out)
	}
	deploy(t, strings.Replace(helloManifest("cached", "cached."+base), "HELLO_FAIL: ${args.fail}", "HELLO_FAIL: ${args.fail}\n      REDIS_HOST: ${resources.cache.host}\n      REDIS_PASSWORD: ${resources.cache.password}", 1)+
		"resources:\n  cache: {type: redis}\n")
	cached, err := cs.CoreV1().Secrets(ns).Get(t.Context(), "cached-resources", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pw := cached.Data["cache.password"]; len(pw) < 16 {
		t.Errorf("the redis password in cached-resources: %q", base64.StdEncoding.EncodeToString(pw))
	}

	// The Score examples written for score-k8s deploy as they are (with a team, which Score
	// files do not name): the frontend finds the backend by ${resources.backend.name} and
	// answers through its route.
	for _, file := range []string{"shop/backend.score.yaml", "shop/frontend.score.yaml", "all-types.score.yaml"} {
		out, code := runBerth(t, srv, "deploy", "-f", filepath.Join(root, "examples", "score", file), "--env", "staging", "--team", "shop", "--wait")
		if code != 0 || !strings.Contains(out, "succeeded") {
			t.Fatalf("deploy of the Score example %s: exit %d\n%s", file, code, out)
		}
	}
	if body := get(t, "http://"+cluster.Node.Ingress+"/upstream", "frontend.shop."+base); !strings.Contains(body, `\"version\"`) {
		t.Errorf("the Score frontend's call of the backend, through its route: %q", body)
	}

	// A type nothing provisions: the deploy fails before anything is applied, saying so.
	out, code = runBerth(t, srv, "deploy", "-f", writeManifest(t, helloManifest("queued", "queued."+base)+"resources:\n  search: {type: elasticsearch}\n"),
		"--env", "staging", "--wait")
	if code == 0 || !strings.Contains(out, "no provisioner for resource type elasticsearch in environment staging") || !strings.Contains(out, "berth provisioners set") {
		t.Errorf("deploy with an elasticsearch resource (no entry in the file): exit %d\n%s", code, out)
	}
	if _, err := cs.AppsV1().Deployments(ns).Get(t.Context(), "queued", metav1.GetOptions{}); err == nil {
		t.Errorf("the refused deploy applied its Deployment")
	}
}

// runKubectlJSON returns an object of the cluster as JSON, through the API.
func runKubectlJSON(t *testing.T, cluster *kubetest.RealNodeCluster, ns, resource, name string) (string, error) {
	t.Helper()
	raw, err := cluster.Client(t).AppsV1().RESTClient().Get().Namespace(ns).Resource(resource).Name(name).DoRaw(t.Context())
	if err != nil {
		return "", errors.Join(err, errors.New(string(raw)))
	}
	return string(raw), nil
}
