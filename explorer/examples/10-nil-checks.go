// Title: Nil checks
// Shows: a load near the start of a struct is its own nil check (removed), a field far into a large struct needs an explicit one, and a pointer already used needs none again.
package main

import "fmt"

type Big struct {
	Header int
	Data   [8192]byte
	Tail   int
}

//go:noinline
func header(b *Big) int {
	return b.Header // offset 0: the load itself faults on nil, no check
}

//go:noinline
func tail(b *Big) int {
	return b.Tail // offset 8200: too far for the fault to be trusted, explicit check
}

//go:noinline
func both(b *Big) int {
	h := b.Header     // b is proved non-nil here
	return h + b.Tail // so no check here
}

func main() {
	b := new(Big)
	b.Tail = 2
	fmt.Println(header(b), tail(b), both(b))
}
