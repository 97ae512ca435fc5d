// Command registry is the CNCF Distribution registry with only the filesystem storage
// driver the dev cluster uses. The upstream main also links the Azure, GCS and S3 drivers
// and their SDKs, which would more than double what a cold `make run` compiles here.
package main

import (
	"os"

	"github.com/distribution/distribution/v3/registry"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
)

func main() {
	if err := registry.RootCmd.Execute(); err != nil {
		os.Exit(1)
	}
}
