module github.com/berth-dev/berth/tools/node/pause

go 1.26.0
