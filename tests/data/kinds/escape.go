package main

type T struct{ a, b int }

var sink *T

func newT() *T {
	t := T{a: 1}
	return &t
}

func keep(p *T) {
	sink = p
}

func identity(p *T) *T {
	return p
}

func first(pp **T) *T {
	return *pp
}

func stash(pp **T) {
	sink = *pp
}

func sum(p *T) int {
	return p.a + p.b
}

func boxed(n int) any {
	return n
}

func local() int {
	x := &T{a: 2}
	return x.a
}

func main() {
	keep(newT())
	q := &T{}
	_ = identity(q)
	_ = first(&q)
	stash(&q)
	_ = sum(q)
	_ = boxed(7)
	_ = local()
}
