// errorcheck -0 -N -m -d=nil=1

// -N (optimizations off): escape analysis still decides, and every nil check is
// generated; the optimizer would have removed them ("removed nil check"). One
// regexp takes every message it matches at its line: the two checks of line 13
// are one expectation.

package noopt

type T struct{ a, b int }

var global *int

func sum(p *T) int { // ERROR "p does not escape$"
	return p.a + p.b // ERROR "generated nil check$"
}

func set(p *T) { // ERROR "p does not escape$"
	p.a = 1 // ERROR "generated nil check$"
}

func leak(x int) { // ERROR "moved to heap: x$"
	global = &x
}
