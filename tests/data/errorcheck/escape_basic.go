// errorcheck -0 -m -l

// Escape analysis at -m with inlining disabled: the decisions the Go project's
// escape*.go tests check, one kind per function.

package escape

type T struct{ p *int }

var sink any

var global *int

func moved() *int {
	x := 0 // ERROR "moved to heap: x$"
	return &x
}

func leaks(p *int) { // ERROR "leaking param: p$"
	global = p
}

func toResult(p *int) *int { // ERROR "leaking param: p to result ~r0 level=0$"
	return p
}

func content(pp **int) { // ERROR "leaking param content: pp$"
	sink = *pp
}

func stays(p *int) int { // ERROR "p does not escape$"
	return *p
}

func literal() *T {
	return &T{} // ERROR "&T{} escapes to heap$"
}

func localLiteral() bool {
	t := &T{} // ERROR "&T{} does not escape$"
	return t.p == nil
}

func dynamic(n int) []int {
	return make([]int, n) // ERROR "make\(\[\]int, n\) escapes to heap$"
}

func constant() int {
	s := make([]int, 8) // ERROR "make\(\[\]int, 8\) does not escape$"
	return len(s)
}

func boxed(x int) {
	sink = x // ERROR "x escapes to heap$"
}

func twoOnOneLine(a, b *int) { // ERROR "a does not escape$" "leaking param: b$"
	_ = *a
	global = b
}
