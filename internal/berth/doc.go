// Package berth is Berth's domain: the records the platform keeps (teams, users, tokens,
// dashboard sessions, apps, revisions, environments, deploys, settings, audit events) and
// their pure rules (names, roles, namespaces, scheduling defaults, deploy states, which
// setting wins), with the errors callers branch on. It imports nothing of Berth's: the
// store maps rows to and from these types, the API maps them to its wire types
// (internal/api/apiv1), and everything else uses them.
package berth
