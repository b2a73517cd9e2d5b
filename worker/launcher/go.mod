module escape-explorer/launcher

go 1.21
