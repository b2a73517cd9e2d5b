package main

type T struct{ a, b int }

func newT() *T {
	t := T{1, 2}
	return &t
}

var sink *int

func store(p *int) {
	sink = p
}

func identity(p *int) *int {
	return p
}

func deref(pp **int) *int {
	return *pp
}

func sum(xs []int) int {
	s := 0
	for _, x := range xs {
		s += x
	}
	return s
}

func main() {
	t := newT()
	x := 1
	store(&x)
	y := 2
	_ = identity(&y)
	z := 3
	pz := &z
	_ = deref(&pz)
	println(t.a, sum([]int{1, 2, 3}))
}
