//go:build tools

// Package tools pins the forge build.sh builds.
package tools

import _ "code.gitea.io/gitea"
