//go:build tools

// Package tools pins the S3 server build.sh builds.
package tools

import _ "github.com/versity/versitygw/cmd/versitygw"
