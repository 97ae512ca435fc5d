package manifest

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Prefixes of label and annotation keys Berth sets itself; letting an app
// set them would let it impersonate another app or break selectors.
var reservedPrefixes = []string{"app.kubernetes.io/", "berth.dev/"}

// envHelperPrefix names the env vars Berth adds to splice secrets and
// config into longer values; apps may not define their own.
const envHelperPrefix = "BERTH_"

// filesVolume is the pod volume holding the app's files.
const filesVolume = "berth-files"

// check validates what the decoder cannot see field by field: names,
// references between fields, and placeholders. An environment skips the
// checks that read only fields it has unchanged from the base (memo.go):
// they would find what the base's checks found and reported.
func (d *decoder) check(m *Manifest) {
	if !d.unchanged("metadata") {
		d.checkMetadata(m)
	}
	if len(m.Containers) == 0 {
		d.fail("containers", "required: at least one container", "e.g. containers: {web: {image: nginx}}")
	}
	if !d.unchanged("containers", "resources") {
		for _, name := range sortedKeys(m.Containers) {
			d.checkContainer(m, name, m.Containers[name])
		}
	}
	if !d.unchanged("service") {
		d.checkService(m)
	}
	if !d.unchanged("exposes", "service") {
		d.checkExposes(m)
	}
	if !d.unchanged("autoscale", "replicas", "containers") {
		d.checkScale(m)
	}
	if !d.unchanged("resources") {
		for _, name := range sortedKeys(m.Resources) {
			d.checkResource(name, m.Resources[name])
		}
		if _, err := ResourceOrder(m); err != nil {
			if loop, ok := err.(*loopError); ok {
				d.fail(join(join("resources", loop.name), "params"), loop.Error(), "a resource's params may take outputs of other resources, not of itself through them")
			}
		}
	}
	if !d.unchanged("smoke", "service", "containers") {
		if len(m.Smoke) > MaxSmokeChecks {
			d.fail("smoke", fmt.Sprintf("at most %d checks", MaxSmokeChecks), "smoke tests gate every deploy: keep them few and quick")
		}
		for i, s := range m.Smoke {
			d.checkSmoke(m, index("smoke", i), s)
		}
	}
	if m.IngressClass != "" && !d.failed["ingressClass"] && !d.unchanged("ingressClass") {
		if !isDNS1123Subdomain(m.IngressClass) {
			d.fail("ingressClass", "must be a DNS name (lowercase letters, digits, '-' and '.')", "")
		}
	}
	if !d.unchanged("metrics", "slo", "alerts", "containers") {
		d.checkMonitoring(m)
	}
	d.checkTemplates(m, d.unchanged("args", "metadata", "resources"))
}

// checkDNSLabel returns a message when s is not an RFC 1123 label, and a
// hint with a fixed-up name.
func checkDNSLabel(s string) (msg, hint string) {
	if isDNS1123Label(s) {
		return "", ""
	}
	return "must be a DNS label: at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit", fixName(s)
}

var notLabelChars = regexp.MustCompile(`[^a-z0-9-]+`)

// fixName suggests a valid label for s, when there is one.
func fixName(s string) string {
	f := strings.Trim(notLabelChars.ReplaceAllString(strings.ToLower(s), "-"), "-")
	if len(f) > 63 {
		f = strings.Trim(f[:63], "-")
	}
	if f == "" || f == s || !isDNS1123Label(f) {
		return ""
	}
	return `did you mean "` + f + `"?`
}

func (d *decoder) checkName(path, what, name string) {
	if msg, hint := checkDNSLabel(name); msg != "" {
		d.fail(path, what+" "+msg, hint)
	}
}

func (d *decoder) checkMetadata(m *Manifest) {
	md := m.Metadata
	switch {
	case md.Name == "":
		d.required("metadata.name", "the app's name, e.g. reports")
	case !isDNS1035Label(md.Name):
		hint := fixName(md.Name)
		if hint == "" && isDNS1123Label(md.Name) {
			hint = "it names a Kubernetes Service, so it must start with a letter"
		}
		d.fail("metadata.name", "must be a DNS label: at most 63 lowercase letters, digits and '-', starting with a letter and ending with a letter or digit", hint)
	}
	if md.Team != "" {
		d.checkName("metadata.team", "team", md.Team)
	}
	for _, k := range sortedKeys(md.Labels) {
		p := join("metadata.labels", k)
		d.checkKey(p, "label", k)
		if !isLabelValue(md.Labels[k]) {
			d.fail(p, "label values are at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit", "")
		}
	}
	for _, k := range sortedKeys(md.Annotations) {
		d.checkKey(join("metadata.annotations", k), "annotation", k)
	}
}

func (d *decoder) checkKey(path, what, key string) {
	if !isQualifiedName(strings.ToLower(key)) {
		d.fail(path, "invalid "+what+" key", "a name of letters, digits, '-', '_' and '.', optionally prefixed by a DNS name and '/', e.g. example.com/owner")
		return
	}
	for _, p := range reservedPrefixes {
		if strings.HasPrefix(key, p) {
			d.fail(path, what+" keys starting with "+p+" are reserved", "Berth sets these itself")
		}
	}
}

func (d *decoder) checkContainer(m *Manifest, name string, c *Container) {
	p := join("containers", name)
	d.checkName(p, "container name", name)
	switch {
	case c.Image == "":
		d.required(join(p, "image"), "e.g. image: registry.example.com/app:${args.version}")
	case strings.ContainsAny(c.Image, " \t\n"):
		d.fail(join(p, "image"), "must not contain spaces", "")
	case hasPlaceholder(c.Image):
		// Checked once the placeholders are expanded, at render time.
	default:
		if msg, hint := imageProblem(c.Image); msg != "" {
			d.fail(join(p, "image"), quote(c.Image)+" is not a valid image reference: "+msg, hint)
		}
	}
	for _, k := range sortedKeys(c.Variables) {
		vp := join(join(p, "variables"), k)
		if errs := validation.IsRelaxedEnvVarName(k); len(errs) > 0 {
			d.fail(vp, "invalid variable name", "printable ASCII without '='")
		} else if strings.HasPrefix(k, envHelperPrefix) {
			d.fail(vp, "variable names starting with "+envHelperPrefix+" are reserved", "Berth uses them to inject secrets and config")
		}
	}
	targets := map[string]string{}
	claim := func(path, target string) {
		if target == "" {
			d.required(join(path, "target"), "the absolute path in the container, e.g. /etc/app/config.yaml")
			return
		}
		if !strings.HasPrefix(target, "/") || slices.Contains(strings.Split(target, "/"), "..") {
			d.fail(join(path, "target"), "must be an absolute path without ..", "")
			return
		}
		if first, ok := targets[target]; ok {
			d.fail(join(path, "target"), "mounts "+target+" again (also "+first+")", "")
			return
		}
		targets[target] = path
	}
	for _, f := range c.Files {
		fp := f.path
		claim(fp, f.Target)
		if f.Mode != "" {
			if v, err := strconv.ParseUint(f.Mode, 8, 32); err != nil || v > 0o777 {
				d.fail(join(fp, "mode"), "must be an octal file mode, e.g. \"0644\"", "")
			}
		}
	}
	for _, v := range c.Volumes {
		vp := v.path
		claim(vp, v.Target)
		if v.Source == "" {
			d.required(join(vp, "source"), "the volume resource, e.g. ${resources.data}")
		} else if r, ok := m.Resources[v.Source]; !ok {
			d.fail(join(vp, "source"), "no resource "+quote(v.Source), didYouMean(v.Source, sortedKeys(m.Resources)))
		} else if r.Type != "volume" {
			d.fail(join(vp, "source"), "resource "+quote(v.Source)+" has type "+quote(r.Type)+", not volume", "")
		}
		if slices.Contains(strings.Split(v.Path, "/"), "..") {
			d.fail(join(vp, "path"), "must not contain ..", "")
		}
	}
	if r := c.Resources; r != nil {
		d.checkQuantities(join(p, "resources"), r)
	}
	d.checkProbe(join(p, "livenessProbe"), c.LivenessProbe)
	d.checkProbe(join(p, "readinessProbe"), c.ReadinessProbe)
}

func (d *decoder) checkQuantities(p string, r *ComputeResources) {
	parse := func(fp, s string) (resource.Quantity, bool) {
		if s == "" {
			return resource.Quantity{}, false
		}
		q, err := resource.ParseQuantity(s)
		if err != nil || q.Sign() < 0 {
			d.fail(fp, "invalid quantity "+quote(s), "e.g. 250m or 0.5 for CPU, 128Mi or 1Gi for memory")
			return q, false
		}
		return q, true
	}
	rc, okRC := parse(join(p, "requests.cpu"), r.Requests.CPU)
	rm, okRM := parse(join(p, "requests.memory"), r.Requests.Memory)
	lc, okLC := parse(join(p, "limits.cpu"), r.Limits.CPU)
	lm, okLM := parse(join(p, "limits.memory"), r.Limits.Memory)
	if okRC && okLC && rc.Cmp(lc) > 0 {
		d.fail(join(p, "requests.cpu"), "request "+r.Requests.CPU+" is more than the limit "+r.Limits.CPU, "")
	}
	if okRM && okLM && rm.Cmp(lm) > 0 {
		d.fail(join(p, "requests.memory"), "request "+r.Requests.Memory+" is more than the limit "+r.Limits.Memory, "")
	}
}

func (d *decoder) checkProbe(p string, pr *Probe) {
	if pr == nil {
		return
	}
	if (pr.HTTPGet == nil) == (pr.Exec == nil) {
		d.fail(p, "needs exactly one of httpGet and exec", "e.g. httpGet: {path: /health, port: 8080}")
		return
	}
	if h := pr.HTTPGet; h != nil {
		hp := join(p, "httpGet")
		if h.Port == 0 {
			d.required(join(hp, "port"), "the container port, e.g. 8080")
		}
		if h.Path != "" && !strings.HasPrefix(h.Path, "/") {
			d.fail(join(hp, "path"), "must start with /", "")
		}
		if h.Scheme != "" && h.Scheme != "HTTP" && h.Scheme != "HTTPS" {
			d.fail(join(hp, "scheme"), "must be HTTP or HTTPS", "")
		}
		for i, hd := range h.HTTPHeaders {
			if errs := validation.IsHTTPHeaderName(hd.Name); len(errs) > 0 {
				d.fail(join(index(join(hp, "httpHeaders"), i), "name"), "invalid HTTP header name "+quote(hd.Name), "")
			}
		}
	}
	if e := pr.Exec; e != nil && len(e.Command) == 0 {
		d.required(join(p, "exec.command"), `e.g. command: ["/bin/check"]`)
	}
}

func servicePorts(m *Manifest) []string {
	if m.Service == nil {
		return nil
	}
	return sortedKeys(m.Service.Ports)
}

func (d *decoder) checkService(m *Manifest) {
	for _, name := range servicePorts(m) {
		p := join("service.ports", name)
		sp := m.Service.Ports[name]
		if !isValidPortName(name) {
			d.fail(p, "port names are at most 15 lowercase letters, digits and '-', with at least one letter", fixName(name))
		}
		if sp.Port == 0 {
			d.required(join(p, "port"), "e.g. port: 80")
		}
		switch sp.Protocol {
		case "", "TCP", "UDP":
		default:
			d.fail(join(p, "protocol"), "must be TCP or UDP", "")
		}
	}
}

// checkPortRef checks that ref names a service port; "" is fine when there
// is exactly one.
func (d *decoder) checkPortRef(m *Manifest, p, ref string) {
	switch {
	case portCount(m) == 0:
		d.fail(p, "there are no service ports to route to", "declare them under service.ports")
	case ref == "":
		d.fail(p, "required when the service has several ports", knownList(servicePorts(m)))
	case portName(m, ref) == "":
		d.fail(p, "no service port "+quote(ref), didYouMean(ref, servicePorts(m)))
	}
}

func portCount(m *Manifest) int {
	if m.Service == nil {
		return 0
	}
	return len(m.Service.Ports)
}

// portName resolves a port reference (a name, or a port number) to the
// service port's name.
func portName(m *Manifest, ref string) string {
	if m.Service == nil {
		return ""
	}
	if _, ok := m.Service.Ports[ref]; ok {
		return ref
	}
	if ref == "" && len(m.Service.Ports) == 1 {
		for name := range m.Service.Ports {
			return name
		}
	}
	// By number, in name order so that a number two ports share always
	// picks the same one.
	for _, name := range servicePorts(m) {
		if strconv.Itoa(int(m.Service.Ports[name].Port)) == ref {
			return name
		}
	}
	return ""
}

func (d *decoder) checkExposes(m *Manifest) {
	seen := map[string]string{}
	for i, e := range m.Exposes {
		p := index("exposes", i)
		switch {
		case e.Host == "":
			d.required(join(p, "host"), "e.g. host: reports.example.com")
		case hasPlaceholder(e.Host):
			// Checked once the placeholders are resolved, at render time.
		case !isHostName(e.Host):
			d.fail(join(p, "host"), "must be a lowercase DNS name, e.g. reports.example.com", "")
		}
		if e.Path != "" && !strings.HasPrefix(e.Path, "/") {
			d.fail(join(p, "path"), "must start with /", "")
		}
		if e.Port != "" || portCount(m) != 1 {
			d.checkPortRef(m, join(p, "port"), e.Port)
		}
		key := e.Host + cmpPath(e.Path)
		if first, ok := seen[key]; ok {
			d.fail(p, "routes "+key+" again (also "+first+")", "")
		}
		seen[key] = p
	}
}

func cmpPath(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

func (d *decoder) checkScale(m *Manifest) {
	a := m.Autoscale
	if a == nil {
		return
	}
	if a.Max == 0 {
		d.required("autoscale.max", "the most replicas to scale to, e.g. max: 10")
		return
	}
	if a.Min > a.Max {
		d.fail("autoscale.min", fmt.Sprintf("min %d is more than max %d", a.Min, a.Max), "")
	}
	if m.Replicas != nil && *m.Replicas > a.Max {
		d.fail("replicas", fmt.Sprintf("%d is more than autoscale.max %d", *m.Replicas, a.Max), "with autoscale, replicas is the least number of replicas")
	}
	for _, name := range sortedKeys(m.Containers) {
		c := m.Containers[name]
		if c.Resources == nil || c.Resources.Requests.CPU == "" {
			d.fail(join("containers", name), "needs resources.requests.cpu because autoscale is set", "the autoscaler measures CPU use against the request")
		}
	}
}

func (d *decoder) checkResource(name string, r *Resource) {
	p := join("resources", name)
	d.checkName(p, "resource name", name)
	if name == filesVolume {
		d.fail(p, "the name "+filesVolume+" is reserved", "")
	}
	switch {
	case r.Type == "":
		d.required(join(p, "type"), knownList(ResourceTypes()))
	case !isResourceType(r.Type):
		d.fail(join(p, "type"), "invalid resource type "+quote(r.Type), "a type is at most 63 lowercase letters, digits, '-' and '.', starting with a letter, e.g. postgres or kafka-topic")
	}
	if r.Type == "route" {
		d.checkRoute(p, r)
	}
	if r.Type == "service" {
		switch app, ok := r.Params["app"]; {
		case !ok:
			// Score's community service provisioner: the resource's name names the app.
		case app == "" || app == nil:
			d.fail(join(p, "params.app"), "is empty", "name the app this one calls, e.g. users-api, or leave params.app out to call the app named "+quote(name))
		default:
			s, isString := app.(string)
			if !isString {
				d.fail(join(p, "params.app"), "must be a string, the name of an app", "")
			} else if msg, hint := checkDNSLabel(s); msg != "" && !hasPlaceholder(s) {
				d.fail(join(p, "params.app"), "app name "+msg, hint)
			}
		}
	}
	for _, k := range sortedKeys(r.Annotations) {
		d.checkKey(join(join(p, "metadata.annotations"), k), "annotation", k)
	}
}

// isResourceType reports whether s can name a resource type. Any such type may be declared
// (Score's types are open); an environment without a provisioner for it refuses the deploy.
func isResourceType(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// checkRoute checks a route's params: host and port are required (as score-k8s's route
// provisioner requires them), path defaults to /.
func (d *decoder) checkRoute(p string, r *Resource) {
	pp := join(p, "params")
	for _, k := range sortedKeys(r.Params) {
		if k != RouteParamHost && k != RouteParamPath && k != RouteParamPort {
			d.fail(join(pp, k), "unknown route param", "a route takes host, path and port")
		}
	}
	str := func(k string) (string, bool) {
		v, ok := r.Params[k]
		if !ok {
			return "", false
		}
		s, isStr := v.(string)
		if !isStr {
			d.fail(join(pp, k), "must be a string", "")
		}
		return s, isStr
	}
	switch host, ok := str(RouteParamHost); {
	case !ok:
		d.required(join(pp, RouteParamHost), "the host name to serve, e.g. ${resources.dns.host} or shop.example.com")
	case !hasPlaceholder(host) && !isHostName(host):
		d.fail(join(pp, RouteParamHost), "invalid host name "+quote(host), "")
	}
	if path, ok := str(RouteParamPath); ok && !hasPlaceholder(path) && !strings.HasPrefix(path, "/") {
		d.fail(join(pp, RouteParamPath), "must start with /", "")
	}
	if _, ok := str(RouteParamPort); !ok {
		d.required(join(pp, RouteParamPort), "the service port to send requests to, by name or number, e.g. http or 8080")
	}
}

// argsHint names the closest known arg and lists them all.
func argsHint(name string, known []string) string {
	if len(known) == 0 {
		return "no args are declared; declare it with a default under args"
	}
	list := "known args: " + strings.Join(known, ", ")
	if s := suggest(name, known); s != "" {
		return `did you mean "` + s + `"? ` + list
	}
	return list
}

// checkTemplates checks the placeholders; with sameInputs, those in
// fields taken from the base, whose checks read only args, metadata and
// resources, are the base's and left out.
func (d *decoder) checkTemplates(m *Manifest, sameInputs bool) {
	for _, t := range d.tmpls {
		if t.reused && sameInputs {
			continue
		}
		if t.err != nil {
			d.fail(t.path, t.err.msg, t.err.hint)
			continue
		}
		for _, s := range t.segs {
			if s.parts != nil {
				d.checkRef(m, t, s)
			}
		}
	}
}

func (d *decoder) checkRef(m *Manifest, t tmpl, s segment) {
	ns, n := s.parts[0], len(s.parts)
	if !slices.Contains(namespaces, ns) {
		hint := "placeholders start with " + strings.Join(namespaces, ", ") + "; write $${ for a literal ${"
		if s := suggest(ns, namespaces); s != "" {
			hint = `did you mean "` + s + `"?`
		}
		d.fail(t.path, "unknown placeholder "+quote(s.raw), hint)
		return
	}
	if !t.allow.has(ns) {
		d.fail(t.path, quote(s.raw)+" can't be used here", "this field takes ${"+strings.Join(t.allow.names(), ".*}, ${")+".*}")
		return
	}
	want := 2
	if ns == "resources" {
		want = 3
	}
	if n != want {
		shape := map[string]string{
			"args": "${args.NAME}", "metadata": "${metadata.name}", "resources": "${resources.NAME.OUTPUT}",
			"config": "${config.KEY}", "secrets": "${secrets.KEY}", "git": "${git.sha}",
		}[ns]
		d.fail(t.path, "malformed placeholder "+quote(s.raw), "write "+shape)
		return
	}
	name := s.parts[1]
	switch ns {
	case "args":
		if _, ok := m.Args[name]; !ok {
			d.fail(t.path, "unknown arg "+quote(name)+" in "+s.raw, argsHint(name, sortedKeys(m.Args)))
		}
	case "metadata":
		switch name {
		case "name":
		case "team":
			if m.Metadata.Team == "" {
				d.fail(t.path, s.raw+" is used but metadata.team is not set", "")
			}
		default:
			d.fail(t.path, "unknown placeholder "+quote(s.raw), "metadata placeholders are ${metadata.name} and ${metadata.team}")
		}
	case "resources":
		r, ok := m.Resources[name]
		if !ok {
			d.fail(t.path, "no resource "+quote(name)+" for "+s.raw, didYouMean(name, sortedKeys(m.Resources)))
			return
		}
		outs, known := resourceOutputs[r.Type]
		if !known {
			return // outputs of other types are known when they are provisioned
		}
		if !slices.Contains(outs, s.parts[2]) {
			hint := "a " + r.Type + " resource has no outputs"
			if r.Type == "volume" {
				hint += "; mount it under volumes"
			}
			if len(outs) > 0 {
				hint = didYouMean(s.parts[2], outs)
			}
			d.fail(t.path, "resource "+quote(name)+" ("+r.Type+") has no output "+quote(s.parts[2]), hint)
		}
	case "git":
		if !slices.Contains(GitKeys, name) {
			d.fail(t.path, "unknown placeholder "+quote(s.raw), gitHint(name))
		}
	case "config", "secrets":
		if !isConfigMapKey(name) {
			d.fail(t.path, "invalid key "+quote(name)+" in "+s.raw, "keys are letters, digits, '-', '_' and '.'")
		}
	}
}

// smokeMethods are the methods an HTTP smoke check may use.
var smokeMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// checkSmoke checks one smoke check: an HTTP check (path) or a command check (command),
// with only its kind's fields.
func (d *decoder) checkSmoke(m *Manifest, p string, s SmokeCheck) {
	if len(s.Name) > 63 {
		d.fail(join(p, "name"), "must be at most 63 characters", "")
	}
	if s.IsCommand() {
		if s.Path != "" {
			d.fail(p, "a check is an HTTP check (path) or a command check (command), not both", "split it into two checks")
			return
		}
		for _, f := range []struct {
			name string
			set  bool
		}{{"port", s.Port != ""}, {"method", s.Method != ""}, {"expect", s.Expect != 0}, {"contains", s.Contains != ""}, {"matches", s.Matches != ""}} {
			if f.set {
				d.fail(join(p, f.name), "only HTTP checks (path) take "+f.name, "a command check passes when its command exits 0")
			}
		}
		if s.Command[0] == "" {
			d.fail(index(join(p, "command"), 0), "must name the program to run", "")
		}
		switch {
		case s.Image != "" && s.Container != "":
			d.fail(join(p, "container"), "give image or container, not both", "image runs that image; container runs the image of one of the app's containers")
		case s.Container != "":
			if _, ok := m.Containers[s.Container]; !ok {
				d.fail(join(p, "container"), "no container "+quote(s.Container), didYouMean(s.Container, sortedKeys(m.Containers)))
			}
		case s.Image == "" && len(m.Containers) > 1:
			d.required(join(p, "container"), "the app has several containers: say whose image runs the command ("+strings.Join(sortedKeys(m.Containers), ", ")+"), or give image")
		case s.Image == "" && len(m.Containers) == 0:
			d.required(join(p, "image"), "the app has no container whose image could run the command")
		}
		return
	}
	if s.Image != "" || s.Container != "" {
		field := "image"
		if s.Image == "" {
			field = "container"
		}
		d.fail(join(p, field), "only command checks take "+field, "add command: [...] or remove "+field)
	}
	if s.Path == "" {
		d.required(join(p, "path"), "e.g. path: /health, or command: [...] for a check run as a Job")
	} else if !strings.HasPrefix(s.Path, "/") || strings.HasPrefix(s.Path, "//") || strings.ContainsAny(s.Path, "\\#") || hasControl(s.Path) {
		d.fail(join(p, "path"), "must be a path on the app, starting with a single /", "e.g. /health or /health?deep=1")
	}
	if s.Method == "HEAD" {
		for _, f := range []struct {
			name string
			set  bool
		}{{"contains", s.Contains != ""}, {"matches", s.Matches != ""}} {
			if f.set {
				d.fail(join(p, f.name), "a HEAD answer has no body to check", "use GET, or check the status only")
			}
		}
	}
	if s.Method != "" && !slices.Contains(smokeMethods, s.Method) {
		hint := knownList(smokeMethods)
		if up := strings.ToUpper(s.Method); slices.Contains(smokeMethods, up) {
			hint = "write it in capitals: " + up
		}
		d.fail(join(p, "method"), "unknown method "+quote(s.Method), hint)
	}
	if s.Matches != "" {
		if _, err := regexp.Compile(s.Matches); err != nil {
			d.fail(join(p, "matches"), "not a regular expression: "+strings.TrimPrefix(err.Error(), "error parsing regexp: "), "RE2 syntax, as Go's regexp package reads it")
		}
	}
	if s.Port != "" || portCount(m) != 1 {
		d.checkPortRef(m, join(p, "port"), s.Port)
	}
}

// hasControl reports whether s holds a control character, which no URL path may.
func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}
