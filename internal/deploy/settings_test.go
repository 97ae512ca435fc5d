package deploy

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/manifest"
)

type fakeSource []berth.Setting

func (f fakeSource) SettingsFor(context.Context, string, string, string) ([]berth.Setting, error) {
	return f, nil
}

const settingsManifest = `apiVersion: berth.dev/v1
metadata: {name: web, team: shop}
containers:
  web:
    image: registry.example.com/web:1
    command: [run, --token, "${secrets.TOKEN}"]
    variables:
      REGION: ${config.REGION}
      DB_PASSWORD: ${secrets.DB_PASSWORD}
      URL: https://${config.HOST}/api
`

func settingAt(kind berth.SettingKind, scope berth.Scope, id int64, key, value string, version int64) berth.Setting {
	s := berth.Setting{ID: id, Kind: kind, Scope: scope, Key: key, Version: version}
	if kind == berth.SettingConfig {
		s.Value = value
	}
	return s
}

var (
	global = berth.Scope{}
	team   = berth.Scope{Team: "shop"}
	app    = berth.Scope{Team: "shop", App: "web"}
	appEnv = berth.Scope{Team: "shop", App: "web", Env: "staging"}
)

func baseSettings() fakeSource {
	return fakeSource{
		settingAt(berth.SettingConfig, global, 1, "REGION", "eu", 1),
		settingAt(berth.SettingConfig, appEnv, 2, "REGION", "us", 3),
		settingAt(berth.SettingConfig, team, 3, "HOST", "shop.example.com", 1),
		settingAt(berth.SettingConfig, global, 4, "UNUSED", "x", 1),
		settingAt(berth.SettingSecret, app, 5, "DB_PASSWORD", "", 2),
		settingAt(berth.SettingSecret, team, 6, "TOKEN", "", 1),
		settingAt(berth.SettingSecret, global, 7, "SMTP", "", 1),
	}
}

func render(t *testing.T, text string, src fakeSource) ([]manifest.Object, error) {
	t.Helper()
	m, err := manifest.Parse("berth.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	s, err := LoadSettings(t.Context(), src, "shop", "web", "staging")
	if err != nil {
		t.Fatal(err)
	}
	return Render(m, manifest.RenderOptions{Env: "staging", Namespace: "shop-staging", Revision: "4"}, s, nil)
}

func find[T manifest.Object](objs []manifest.Object) T {
	var zero T
	for _, o := range objs {
		if v, ok := o.(T); ok {
			return v
		}
	}
	return zero
}

// TestRenderSettings: the ConfigMap holds the config values the manifest reads (the most
// specific level's), the Secret names the secret versions and holds no value, and the
// containers reference both.
func TestRenderSettings(t *testing.T) {
	objs, err := render(t, settingsManifest, baseSettings())
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, o := range objs {
		kinds = append(kinds, o.GetObjectKind().GroupVersionKind().Kind+"/"+o.GetName())
	}
	if got := strings.Join(kinds, " "); got != "ServiceAccount/web ConfigMap/web-config Secret/web-secrets ConfigMap/web-alerts Deployment/web" {
		t.Fatalf("objects %s", got)
	}
	cm := find[*corev1.ConfigMap](objs)
	if len(cm.Data) != 2 || cm.Data["REGION"] != "us" || cm.Data["HOST"] != "shop.example.com" {
		t.Errorf("ConfigMap data %v", cm.Data)
	}
	sec := find[*corev1.Secret](objs)
	if len(sec.Data) != 0 || len(sec.StringData) != 0 {
		t.Errorf("the rendered Secret holds data: %v %v", sec.Data, sec.StringData)
	}
	var versions map[string]secretVersion
	if err := json.Unmarshal([]byte(sec.Annotations[AnnotationSecretVersions]), &versions); err != nil {
		t.Fatal(err)
	}
	want := map[string]secretVersion{"DB_PASSWORD": {Level: berth.LevelApp, Setting: 5, Version: 2}, "TOKEN": {Level: berth.LevelTeam, Setting: 6, Version: 1}}
	if len(versions) != 2 || versions["DB_PASSWORD"] != want["DB_PASSWORD"] || versions["TOKEN"] != want["TOKEN"] {
		t.Errorf("secret versions %v, want %v", versions, want)
	}
	for _, o := range objs {
		if o.GetLabels()[manifest.LabelManagedBy] != "berth" || o.GetLabels()[manifest.LabelEnv] != "staging" ||
			o.GetLabels()[manifest.LabelName] != "web" || o.GetNamespace() != "shop-staging" {
			t.Errorf("%s %s: labels %v namespace %q", o.GetObjectKind().GroupVersionKind().Kind, o.GetName(), o.GetLabels(), o.GetNamespace())
		}
	}
	dep := find[*appsv1.Deployment](objs)
	env := map[string]string{}
	for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			env[e.Name] = "secret " + e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
		case e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil:
			env[e.Name] = "config " + e.ValueFrom.ConfigMapKeyRef.Name + "/" + e.ValueFrom.ConfigMapKeyRef.Key
		default:
			env[e.Name] = e.Value
		}
	}
	if env["DB_PASSWORD"] != "secret web-secrets/DB_PASSWORD" || env["REGION"] != "config web-config/REGION" ||
		!strings.Contains(env["URL"], "$(") {
		t.Errorf("container env %v", env)
	}
}

// TestRenderChecksum: the pod template's checksum changes with the version of a value the
// pods read, and only then.
func TestRenderChecksum(t *testing.T) {
	sum := func(src fakeSource) string {
		t.Helper()
		objs, err := render(t, settingsManifest, src)
		if err != nil {
			t.Fatal(err)
		}
		return find[*appsv1.Deployment](objs).Spec.Template.Annotations[manifest.AnnotationChecksum]
	}
	base := sum(baseSettings())
	if sum(baseSettings()) != base {
		t.Fatal("the checksum is not stable")
	}
	unused := baseSettings()
	unused[3].Version = 2
	if sum(unused) != base {
		t.Error("a value the pods do not read changed the checksum")
	}
	for i, what := range map[int]string{4: "a secret's version", 1: "a config value's version"} {
		changed := baseSettings()
		changed[i].Version++
		if sum(changed) == base {
			t.Errorf("%s did not change the checksum", what)
		}
	}
	// The winner moving to another level changes it too.
	moved := baseSettings()
	moved = append(moved[:1:1], moved[2:]...)
	if sum(moved) == base {
		t.Error("REGION moving to global did not change the checksum")
	}
}

// TestRenderEnvFromAll: the annotation asks for every config value and secret as envFrom.
func TestRenderEnvFromAll(t *testing.T) {
	text := strings.Replace(settingsManifest, "metadata: {name: web, team: shop}",
		"metadata: {name: web, team: shop, annotations: {"+AnnotationEnvFrom+": 'config,secrets'}}", 1)
	objs, err := render(t, text, baseSettings())
	if err != nil {
		t.Fatal(err)
	}
	if cm := find[*corev1.ConfigMap](objs); len(cm.Data) != 3 || cm.Data["UNUSED"] != "x" {
		t.Errorf("ConfigMap with every config value: %v", cm.Data)
	}
	if ann := find[*corev1.Secret](objs).Annotations[AnnotationSecretVersions]; !strings.Contains(ann, "SMTP") {
		t.Errorf("Secret with every secret: %s", ann)
	}
	c := find[*appsv1.Deployment](objs).Spec.Template.Spec.Containers[0]
	if len(c.EnvFrom) != 2 || c.EnvFrom[0].ConfigMapRef.Name != "web-config" || c.EnvFrom[1].SecretRef.Name != "web-secrets" {
		t.Errorf("envFrom %+v", c.EnvFrom)
	}
	sum := find[*appsv1.Deployment](objs).Spec.Template.Annotations[manifest.AnnotationChecksum]
	changed := baseSettings()
	changed[6].Version = 2 // SMTP: no variable names it, envFrom reads it
	objs, _ = render(t, text, changed)
	if find[*appsv1.Deployment](objs).Spec.Template.Annotations[manifest.AnnotationChecksum] == sum {
		t.Error("a secret read through envFrom changed without changing the checksum")
	}

	bad := strings.Replace(text, "'config,secrets'", "all", 1)
	if _, err := render(t, bad, baseSettings()); err == nil || !strings.Contains(err.Error(), AnnotationEnvFrom) {
		t.Errorf("a bad %s: %v", AnnotationEnvFrom, err)
	}
}

// TestRenderMissingSetting names the key and the levels searched.
func TestRenderMissingSetting(t *testing.T) {
	src := baseSettings()
	_, err := render(t, settingsManifest, append(src[:4:4], src[5]))
	var errs *manifest.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("render with a missing secret: %v", err)
	}
	for _, want := range []string{"DB_PASSWORD", "app shop/web in staging, app shop/web, team shop, global"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q: %v", want, err)
		}
	}
	// Nothing to resolve: no extra objects (and, with no team, no alert rules).
	objs, err := render(t, "apiVersion: berth.dev/v1\nmetadata: {name: web}\ncontainers: {web: {image: x}}\n", nil)
	if err != nil || len(objs) != 2 {
		t.Errorf("plain manifest: %d objects, %v", len(objs), err)
	}
}

type fakeSecrets map[berth.SecretRef]string

func (f fakeSecrets) SecretValues(_ context.Context, refs []berth.SecretRef) (map[berth.SecretRef][]byte, error) {
	out := map[berth.SecretRef][]byte{}
	for _, r := range refs {
		v, ok := f[r]
		if !ok {
			return nil, errors.New("no such version")
		}
		out[r] = []byte(v)
	}
	return out, nil
}

func (f fakeSecrets) ResourceSecrets(context.Context, string, string) (berth.ResourceSecrets, error) {
	return berth.ResourceSecrets{}, berth.ErrNotFound
}

// TestFillSecrets puts the named versions' values into the Secret's data, and the redactor
// scrubs them (and their base64) from messages.
func TestFillSecrets(t *testing.T) {
	objs, err := render(t, settingsManifest, baseSettings())
	if err != nil {
		t.Fatal(err)
	}
	content, err := manifest.EncodeStored(objs)
	if err != nil {
		t.Fatal(err)
	}
	us, err := manifest.DecodeStored(content)
	if err != nil {
		t.Fatal(err)
	}
	vals, err := fillSecrets(t.Context(), fakeSecrets{{Setting: 5, Version: 2}: "pw-value-1", {Setting: 6, Version: 1}: "token-value-2"}, "staging", us)
	if err != nil {
		t.Fatal(err)
	}
	var sec *unstructured.Unstructured
	for _, o := range us {
		if o.GetKind() == "Secret" {
			sec = o
		}
	}
	data, _, _ := unstructured.NestedStringMap(sec.Object, "data")
	if data["DB_PASSWORD"] != base64.StdEncoding.EncodeToString([]byte("pw-value-1")) || len(data) != 2 {
		t.Errorf("data %v", data)
	}
	if strings.Contains(string(content), "pw-value-1") {
		t.Error("stored content holds a value")
	}
	r := redactor(vals)
	msg := r.redact("failed: pw-value-1 and " + base64.StdEncoding.EncodeToString([]byte("token-value-2")))
	if strings.Contains(msg, "pw-value") || strings.Contains(msg, base64.StdEncoding.EncodeToString([]byte("token-value-2"))) {
		t.Errorf("redacted %q", msg)
	}
	if _, err := fillSecrets(t.Context(), fakeSecrets{}, "staging", us); err == nil {
		t.Error("a missing version filled")
	}
}

// TestSettingsPrecedence sets REGION (config) and TOKEN (secret) at every subset of the
// four levels: the deploy gets the most specific level's value, or fails naming the key
// when no level sets it. Settings of another app or environment never apply (the store's
// query leaves them out; its conformance suite checks that on both databases).
func TestSettingsPrecedence(t *testing.T) {
	const text = `apiVersion: berth.dev/v1
metadata: {name: web, team: shop}
containers:
  web:
    image: registry.example.com/web:1
    variables: {REGION: "${config.REGION}", TOKEN: "${secrets.TOKEN}"}
`
	levels := []struct {
		level berth.Level
		scope berth.Scope
	}{{berth.LevelGlobal, global}, {berth.LevelTeam, team}, {berth.LevelApp, app}, {berth.LevelAppEnv, appEnv}}
	for mask := range 1 << len(levels) {
		var src fakeSource
		var names []string
		want := berth.Level("")
		for i, l := range levels {
			if mask&(1<<i) != 0 {
				src = append(src,
					settingAt(berth.SettingConfig, l.scope, int64(10+i), "REGION", string(l.level), 1),
					settingAt(berth.SettingSecret, l.scope, int64(20+i), "TOKEN", "", 1))
				names = append(names, string(l.level))
				want = l.level
			}
		}
		t.Run("["+strings.Join(names, " ")+"]", func(t *testing.T) {
			objs, err := render(t, text, src)
			if want == "" {
				if err == nil || !strings.Contains(err.Error(), "no config REGION") || !strings.Contains(err.Error(), "no secret TOKEN") {
					t.Fatalf("no level sets the keys: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := find[*corev1.ConfigMap](objs).Data["REGION"]; got != string(want) {
				t.Errorf("REGION = %q, want the %s value", got, want)
			}
			var versions map[string]secretVersion
			json.Unmarshal([]byte(find[*corev1.Secret](objs).Annotations[AnnotationSecretVersions]), &versions)
			if versions["TOKEN"].Level != want {
				t.Errorf("TOKEN from %s, want %s", versions["TOKEN"].Level, want)
			}
		})
	}
}

// TestRedactSecretForms: a secret is redacted in every form an app's output may carry it.
func TestRedactSecretForms(t *testing.T) {
	secret := "p&ss/wo rd<>\"?=1"
	r := redactor{[]byte(secret)}
	js, _ := json.Marshal(map[string]string{"password": secret})
	for _, msg := range []string{
		"password=" + secret,
		string(js),
		"url: postgres://app:" + url.QueryEscape(secret) + "@db/app",
		"path /" + url.PathEscape(secret),
		"b64 " + base64.StdEncoding.EncodeToString([]byte(secret)),
		"b64url " + base64.RawURLEncoding.EncodeToString([]byte(secret)),
	} {
		got := r.redact(msg)
		if !strings.Contains(got, "(redacted)") || strings.Contains(got, "ss/wo") || strings.Contains(got, "ss%2Fwo") || strings.Contains(got, `p\u0026ss`) {
			t.Errorf("redact(%q) = %q", msg, got)
		}
	}
	if got := (redactor{[]byte("abc")}).redact("abc abc"); got != "abc abc" {
		t.Errorf("a 3-byte value blanked words: %q", got)
	}
}
