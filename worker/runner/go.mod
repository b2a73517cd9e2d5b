module escape-explorer/runner

go 1.21
