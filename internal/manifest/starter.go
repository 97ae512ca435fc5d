package manifest

import (
	"bytes"
	"fmt"
	"text/template"
)

// StarterOptions fill in the starter manifest berth init writes.
type StarterOptions struct {
	Name  string // app name
	Team  string // owning team
	Image string // image without tag
	Port  int    // port the container listens on
}

// starterTemplate is a commented berth.yaml: a new user learns the format
// from it, so every comment says what a field is for and what else exists.
var starterTemplate = template.Must(template.New("berth.yaml").Parse(`# yaml-language-server: $schema=https://raw.githubusercontent.com/berth-dev/berth/main/docs/berth.schema.json
# The app manifest: Berth renders it into Kubernetes objects for each
# environment. Reference: docs/manifest.md. Check it with: berth validate
apiVersion: berth.dev/v1
metadata:
  name: {{.Name}}            # names every object Berth creates for the app
  team: {{.Team}}            # the team that owns it

# Args have defaults here and are set per deploy: berth deploy --set version=1.2.3
args:
  version: latest

containers:
  app:
    image: {{.Image}}:${args.version}
    variables:
      PORT: "{{.Port}}"
      # DATABASE_URL: ${resources.db.url}    # from a resource declared below
      # API_KEY: ${secrets.API_KEY}          # from the app's secrets, never in plain text
    resources:
      requests: {cpu: 100m, memory: 128Mi}
      limits: {memory: 256Mi}
    readinessProbe:
      httpGet: {path: /, port: {{.Port}}}

service:
  ports:
    http: {port: 80, targetPort: {{.Port}}}

# Route outside traffic to the service:
# exposes:
#   - {host: {{.Name}}.example.com, path: /, port: http}

replicas: 1
# Or scale on CPU use (needs resources.requests.cpu, as above):
# autoscale: {min: 2, max: 10, cpu: 70}

# What the app needs from the platform, provisioned per environment:
# resources:
#   db: {type: postgres}
#   users: {type: service, params: {app: users-api}}

# Checks the deploy makes after each rollout:
# smoke:
#   - {path: /, expect: 200}

# Per-environment overrides, merged over everything above:
# environments:
#   production: {replicas: 3}
#   staging: {args: {version: main}}
`))

// Starter returns a commented starter berth.yaml.
func Starter(opts StarterOptions) ([]byte, error) {
	if opts.Port < 1 || opts.Port > 65535 {
		return nil, fmt.Errorf("%w: port %d: must be from 1 to 65535", ErrInvalidOption, opts.Port)
	}
	var buf bytes.Buffer
	if err := starterTemplate.Execute(&buf, opts); err != nil {
		return nil, fmt.Errorf("starter manifest: %w", err)
	}
	return buf.Bytes(), nil
}
