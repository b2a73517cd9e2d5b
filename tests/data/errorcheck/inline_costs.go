// errorcheck -0 -m=2

// Inlining at -m=2: each function's cost and body, the reasons a function is not
// inlined, and the calls that were.

package inline

func add(a, b int) int { // ERROR "can inline add with cost 4 as: func\(int, int\) int { return a \+ b }$"
	return a + b
}

func twice(x int) int { // ERROR "can inline twice with cost 9 as:"
	return add(x, x) // ERROR "inlining call to add$"
}

//go:noinline
func never(x int) int { // ERROR "cannot inline never: marked go:noinline$"
	return x
}

func callsNever() int { // ERROR "can inline callsNever with cost [0-9]+ as:"
	return never(1) + twice(2) // ERROR "inlining call to twice$" "inlining call to add$"
}

func tooBig(a []int) int { // ERROR "cannot inline tooBig: function too complex: cost [0-9]+ exceeds budget 80$" "a does not escape$"
	s := 0
	for i := range a {
		s += a[i] * 3
		s -= a[i] / 7
		s ^= a[i] << 2
		s |= a[i] >> 1
		s += add(a[i], s) // ERROR "inlining call to add$"
		s -= add(s, a[i]) // ERROR "inlining call to add$"
		s += twice(a[i])  // ERROR "inlining call to twice$" "inlining call to add$"
		s -= twice(s)     // ERROR "inlining call to twice$" "inlining call to add$"
		if s > 1000 {
			s = s%97 + a[i]%13 + a[i]%11 + a[i]%7
		}
	}
	return s
}
