package berth

// ValidateName checks that name is a DNS-1123 label (lower-case letters, digits and '-',
// starting and ending with a letter or digit, at most 63 characters): teams, apps and
// environments become parts of Kubernetes names and namespaces.
func ValidateName(field, name string) error {
	switch {
	case name == "":
		return Invalid(field, "must not be empty")
	case len(name) > 63:
		return Invalid(field, "%q is longer than 63 characters", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return Invalid(field, "%q must consist of lower-case letters, digits and '-' (a DNS-1123 label)", name)
		}
	}
	if name[0] == '-' || name[len(name)-1] == '-' {
		return Invalid(field, "%q must start and end with a letter or digit (a DNS-1123 label)", name)
	}
	return nil
}

// AppTarget is the audit target of team's app ("app/shop/web") or, when env is not
// empty, of the app in one environment ("app/shop/web/env/staging").
func AppTarget(team, app, env string) string {
	if env == "" {
		return "app/" + team + "/" + app
	}
	return "app/" + team + "/" + app + "/env/" + env
}
