// errorcheck -0 -live -l

// -live: the values live at each call (stack maps). Go 1.21 names a temporary
// where later toolchains name the parameter.

package live

//go:noinline
func g(p *int) {}

//go:noinline
func h() {}

func f(x *int) { // ERROR "live at entry to f: x$"
	y := new(int)
	g(y) // ERROR "live at call to g: (x|\.autotmp_[0-9]+)$"
	h()  // ERROR "live at call to h: (x|\.autotmp_[0-9]+)$"
	g(x)
}
