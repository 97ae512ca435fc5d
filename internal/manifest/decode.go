package manifest

import (
	"encoding/base64"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Field bounds. Replicas are capped where a typo (10000 for 100) is more
// likely than intent; the platform can raise it when someone needs it.
const (
	maxReplicas = 1000
	maxCPU      = 1000 // percent of the CPU request
)

// decode reads a whole manifest tree and validates it.
func (d *decoder) decode(root *yaml.Node) *Manifest {
	m := &Manifest{File: d.file, Env: d.env, locs: make(map[string]loc, d.fields)}
	d.m = m
	d.m.locs[""] = loc{line: int32(root.Line), col: int32(root.Column)}
	pairs := d.mapping(root, "")
	if r := d.resolve(root); r == nil || r.Kind != yaml.MappingNode {
		return m
	}

	fs := berthFields
	var api *yaml.Node
	for _, p := range pairs {
		if p.name == "apiVersion" {
			api = p.val
			d.record("apiVersion", p.key, p.val)
		}
	}
	switch v := d.str(api, "apiVersion"); v {
	case APIVersionBerth:
		m.APIVersion = v
	case APIVersionScore:
		m.APIVersion, fs, d.score = v, scoreFields, true
	case "":
		d.required("apiVersion", `start the file with "apiVersion: berth.dev/v1"`)
	default:
		d.fail("apiVersion", "unknown apiVersion "+quote(v), "use berth.dev/v1, or score.dev/v1b1 for a Score file")
	}

	for _, p := range pairs {
		path := p.name
		d.record(path, p.key, p.val)
		if !d.score && strings.HasPrefix(p.name, "x-") {
			continue // extension fields hold YAML anchors for reuse
		}
		if !fs.has(p.name) {
			hint := didYouMean(p.name, fs.fields)
			if d.score && berthFields.has(p.name) {
				hint = "a berth.dev/v1 field; a Score file takes metadata, containers, service and resources"
			}
			d.failNode(p.key, path, "unknown field", hint)
			continue
		}
		if i := reusableIndex(p.name); i >= 0 {
			d.present |= 1 << i
		}
		if d.reuse(p) {
			continue
		}
		start := d.startField()
		switch p.name {
		case "metadata":
			m.Metadata = d.metadata(p.val, path)
		case "args":
			m.Args = d.strMap(p.val, path, 0)
		case "containers":
			for _, c := range d.entries(p.val, path) {
				if m.Containers == nil {
					m.Containers = map[string]*Container{}
				}
				m.Containers[c.name] = d.container(c.val, c.path)
			}
		case "service":
			m.Service = d.service(p.val, path)
		case "exposes":
			for i, item := range d.items(p.val, path) {
				m.Exposes = append(m.Exposes, d.expose(item, index(path, i)))
			}
		case "replicas":
			if v, ok := d.integer(p.val, path, 0, maxReplicas); ok {
				r := int32(v)
				m.Replicas = &r
			}
		case "autoscale":
			m.Autoscale = d.autoscale(p.val, path)
		case "resources":
			for _, r := range d.entries(p.val, path) {
				if m.Resources == nil {
					m.Resources = map[string]*Resource{}
				}
				m.Resources[r.name] = d.resource(r.val, r.path)
			}
		case "smoke":
			for i, item := range d.items(p.val, path) {
				m.Smoke = append(m.Smoke, d.smoke(item, index(path, i)))
			}
		case "ingressClass":
			m.IngressClass = d.str(p.val, path)
		case "deploy":
			m.Deploy = d.deployPolicy(p.val, path)
		case "git":
			m.Git = d.gitRules(p.val, path)
		case "metrics":
			m.Metrics = d.metrics(p.val, path)
		case "slo":
			m.SLO = d.slo(p.val, path)
		case "alerts":
			m.Alerts = d.alerts(p.val, path)
		case "environments":
			if d.env == "" {
				d.envNode = p.val
			}
		}
		d.endField(p, start)
	}
	d.check(m)
	return m
}

func (d *decoder) metadata(n *yaml.Node, path string) Metadata {
	var md Metadata
	var ps []pair
	if d.score {
		// Score lets metadata carry any extra keys; they mean nothing to us.
		for _, p := range d.entries(n, path) {
			if scoreMetadataFields.has(p.name) {
				ps = append(ps, p)
			}
		}
	} else {
		ps = d.object(n, path, metadataFields)
	}
	for _, p := range ps {
		fp := p.path
		switch p.name {
		case "name":
			md.Name = d.str(p.val, fp)
		case "team":
			md.Team = d.str(p.val, fp)
		case "annotations":
			md.Annotations = d.strMap(p.val, fp, 0)
		case "labels":
			md.Labels = d.strMap(p.val, fp, 0)
		}
	}
	return md
}

func (d *decoder) container(n *yaml.Node, path string) *Container {
	c := &Container{}
	for _, p := range d.object(n, path, containerFields) {
		fp := p.path
		switch p.name {
		case "image":
			c.Image = d.text(p.val, fp, allowPlain)
		case "command":
			c.Command = d.strList(p.val, fp, allowAll)
		case "args":
			c.Args = d.strList(p.val, fp, allowAll)
		case "variables":
			c.Variables = d.strMap(p.val, fp, allowAll)
		case "files":
			c.Files = d.files(p.val, fp)
		case "volumes":
			c.Volumes = d.volumes(p.val, fp)
		case "resources":
			c.Resources = d.compute(p.val, fp)
		case "livenessProbe":
			c.LivenessProbe = d.probe(p.val, fp)
		case "readinessProbe":
			c.ReadinessProbe = d.probe(p.val, fp)
		}
	}
	return c
}

// files reads Score's files in both forms (see byTarget).
func (d *decoder) files(n *yaml.Node, path string) []File {
	return byTarget(d, n, path, fileItemFields, fileFields, (*decoder).fileEntry)
}

// volumes reads Score's volumes in both forms (see byTarget).
func (d *decoder) volumes(n *yaml.Node, path string) []Volume {
	return byTarget(d, n, path, volumeItemFields, volumeFields, (*decoder).volume)
}

// byTarget reads what Score mounts at a target path, files and volumes, in
// both forms: the current mapping keyed by target path (fields in
// mapFields), and the older list with a target field (listFields). read
// decodes one entry; target is "" in the list form.
func byTarget[T any](d *decoder, n *yaml.Node, path string, listFields, mapFields *fieldSet,
	read func(d *decoder, n *yaml.Node, path, target string, fs *fieldSet) T) []T {
	var out []T
	switch d.peekKind(n) {
	case yaml.SequenceNode:
		for i, item := range d.items(n, path) {
			out = append(out, read(d, item, index(path, i), "", listFields))
		}
	default:
		for _, p := range d.entries(n, path) {
			ep := path + "[" + p.name + "]"
			d.record(ep, p.key, p.val)
			out = append(out, read(d, p.val, ep, p.name, mapFields))
		}
	}
	return out
}

func (d *decoder) fileEntry(n *yaml.Node, path, target string, fs *fieldSet) File {
	f := File{Target: target, path: path}
	var content *yaml.Node
	sources := 0
	for _, p := range d.object(n, path, fs) {
		fp := p.path
		switch p.name {
		case "target":
			f.Target = d.str(p.val, fp)
		case "mode":
			f.Mode = d.str(p.val, fp)
		case "source":
			f.Source = d.str(p.val, fp)
			sources++
		case "content":
			content = p.val
			sources++
		case "binaryContent":
			s := d.str(p.val, fp)
			b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
			if err != nil {
				d.fail(fp, "must be base64", "encode the bytes with base64, or use content for text")
			}
			f.BinaryContent = b
			sources++
		case "noExpand":
			f.NoExpand = d.boolean(p.val, fp)
		}
	}
	if sources != 1 {
		d.fail(path, "needs exactly one of content, binaryContent and source", "")
	}
	if content != nil {
		// noExpand may come after content, so content is read last.
		if f.NoExpand {
			if r := d.scalar(content, join(path, "content"), "a string"); r != nil {
				f.Content = r.Value
			}
		} else {
			f.Content = d.text(content, join(path, "content"), allowText)
		}
	}
	return f
}

func (d *decoder) volume(n *yaml.Node, path, target string, fs *fieldSet) Volume {
	v := Volume{Target: target, path: path}
	for _, p := range d.object(n, path, fs) {
		fp := p.path
		switch p.name {
		case "source":
			// Score writes a volume source as ${resources.NAME}; a bare
			// name means the same resource.
			r := d.scalar(p.val, fp, "a string")
			if r != nil {
				v.Source = r.Value
				if s, ok := strings.CutPrefix(v.Source, "${resources."); ok {
					if s, ok = strings.CutSuffix(s, "}"); ok {
						v.Source = s
					}
				}
			}
		case "path":
			v.Path = d.str(p.val, fp)
		case "target":
			v.Target = d.str(p.val, fp)
		case "readOnly":
			v.ReadOnly = d.boolean(p.val, fp)
		}
	}
	return v
}

func (d *decoder) compute(n *yaml.Node, path string) *ComputeResources {
	c := &ComputeResources{}
	for _, p := range d.object(n, path, computeFields) {
		fp := p.path
		var l ResourceList
		for _, q := range d.object(p.val, fp, resourceListField) {
			switch q.name {
			case "cpu":
				l.CPU = d.str(q.val, q.path)
			case "memory":
				l.Memory = d.str(q.val, q.path)
			}
		}
		if p.name == "requests" {
			c.Requests = l
		} else {
			c.Limits = l
		}
	}
	return c
}

func (d *decoder) probe(n *yaml.Node, path string) *Probe {
	pr := &Probe{}
	for _, p := range d.object(n, path, probeFields) {
		fp := p.path
		switch p.name {
		case "httpGet":
			h := &HTTPGetProbe{}
			for _, q := range d.object(p.val, fp, httpGetFields) {
				qp := q.path
				switch q.name {
				case "scheme":
					h.Scheme = d.str(q.val, qp)
				case "host":
					h.Host = d.str(q.val, qp)
				case "path":
					h.Path = d.str(q.val, qp)
				case "port":
					if v, ok := d.integer(q.val, qp, 1, 65535); ok {
						h.Port = int32(v)
					}
				case "httpHeaders":
					for i, item := range d.items(q.val, qp) {
						ip := index(qp, i)
						var hd HTTPHeader
						for _, f := range d.object(item, ip, httpHeaderFields) {
							if f.name == "name" {
								hd.Name = d.str(f.val, f.path)
							} else {
								hd.Value = d.str(f.val, f.path)
							}
						}
						h.HTTPHeaders = append(h.HTTPHeaders, hd)
					}
				}
			}
			pr.HTTPGet = h
		case "exec":
			e := &ExecProbe{}
			for _, q := range d.object(p.val, fp, execFields) {
				e.Command = d.strList(q.val, q.path, 0)
			}
			pr.Exec = e
		}
	}
	return pr
}

func (d *decoder) service(n *yaml.Node, path string) *Service {
	s := &Service{}
	for _, p := range d.object(n, path, serviceFields) {
		fp := p.path
		for _, e := range d.entries(p.val, fp) {
			ep := e.path
			var sp ServicePort
			for _, f := range d.object(e.val, ep, servicePortFields) {
				pp := f.path
				switch f.name {
				case "port":
					if v, ok := d.integer(f.val, pp, 1, 65535); ok {
						sp.Port = int32(v)
					}
				case "targetPort":
					if v, ok := d.integer(f.val, pp, 1, 65535); ok {
						sp.TargetPort = int32(v)
					}
				case "protocol":
					sp.Protocol = d.str(f.val, pp)
				}
			}
			if s.Ports == nil {
				s.Ports = map[string]ServicePort{}
			}
			s.Ports[e.name] = sp
		}
	}
	return s
}

func (d *decoder) expose(n *yaml.Node, path string) Expose {
	var e Expose
	for _, p := range d.object(n, path, exposeFields) {
		fp := p.path
		switch p.name {
		case "host":
			e.Host = d.text(p.val, fp, allowPlain)
		case "path":
			e.Path = d.str(p.val, fp)
		case "port":
			e.Port = d.str(p.val, fp)
		}
	}
	return e
}

func (d *decoder) autoscale(n *yaml.Node, path string) *Autoscale {
	if r := d.resolve(n); r == nil || isNull(r) {
		return nil
	}
	a := &Autoscale{Min: 1, CPU: 80}
	for _, p := range d.object(n, path, autoscaleFields) {
		fp := p.path
		switch p.name {
		case "min":
			if v, ok := d.integer(p.val, fp, 1, maxReplicas); ok {
				a.Min = int32(v)
			}
		case "max":
			if v, ok := d.integer(p.val, fp, 1, maxReplicas); ok {
				a.Max = int32(v)
			}
		case "cpu":
			if v, ok := d.integer(p.val, fp, 1, maxCPU); ok {
				a.CPU = int32(v)
			}
		}
	}
	return a
}

func (d *decoder) deployPolicy(n *yaml.Node, path string) DeployPolicy {
	var dp DeployPolicy
	for _, p := range d.object(n, path, deployFields) {
		switch p.name {
		case "autoRollback":
			// null keeps the default, as a missing key does.
			if r := d.resolve(p.val); r != nil && !isNull(r) {
				dp.NoAutoRollback = !d.boolean(p.val, p.path)
			}
		case "smokeTimeout":
			dp.SmokeTimeout = d.duration(p.val, p.path, time.Second, time.Hour)
		}
	}
	return dp
}

func (d *decoder) resource(n *yaml.Node, path string) *Resource {
	r := &Resource{}
	for _, p := range d.object(n, path, resourceFields) {
		fp := p.path
		switch p.name {
		case "type":
			r.Type = d.str(p.val, fp)
		case "class":
			r.Class = d.str(p.val, fp)
		case "id":
			r.ID = d.str(p.val, fp)
		case "metadata":
			var ps []pair
			if d.score {
				for _, q := range d.entries(p.val, fp) {
					if resMetaFields.has(q.name) {
						ps = append(ps, q)
					}
				}
			} else {
				ps = d.object(p.val, fp, resMetaFields)
			}
			for _, q := range ps {
				r.Annotations = d.strMap(q.val, q.path, 0)
			}
		case "params":
			if v, ok := d.anyValue(p.val, fp, 0).(map[string]any); ok {
				r.Params = v
			} else if rr := d.resolve(p.val); rr != nil && !isNull(rr) {
				d.fail(fp, "must be a mapping, not "+describe(rr), "")
			}
		}
	}
	return r
}

func (d *decoder) smoke(n *yaml.Node, path string) SmokeCheck {
	s := SmokeCheck{Retries: -1}
	for _, p := range d.object(n, path, smokeFields) {
		fp := p.path
		switch p.name {
		case "name":
			s.Name = d.str(p.val, fp)
		case "path":
			s.Path = d.str(p.val, fp)
		case "port":
			s.Port = d.str(p.val, fp)
		case "method":
			s.Method = d.str(p.val, fp)
		case "expect":
			if v, ok := d.integer(p.val, fp, 100, 599); ok {
				s.Expect = int(v)
			}
		case "contains":
			s.Contains = d.str(p.val, fp)
		case "matches":
			s.Matches = d.str(p.val, fp)
		case "command":
			s.Command = d.strList(p.val, fp, 0)
		case "image":
			s.Image = d.str(p.val, fp)
		case "container":
			s.Container = d.str(p.val, fp)
		case "timeout":
			s.Timeout = d.duration(p.val, fp, 100*time.Millisecond, 30*time.Minute)
		case "retries":
			if v, ok := d.integer(p.val, fp, 0, 10); ok {
				s.Retries = int(v)
			}
		}
	}
	return s
}
