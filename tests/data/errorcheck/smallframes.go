// errorcheck -0 -m -l -smallframes

// -smallframes lowers the size up to which a variable may live on the stack: the
// make below stays on the stack without the flag, and escapes with it.

package small

func mk() int {
	b := make([]byte, 40000) // ERROR "make\(\[\]byte, 40000\) escapes to heap$"
	use(b)
	return len(b)
}

func stays() int {
	b := make([]byte, 64) // ERROR "make\(\[\]byte, 64\) does not escape$"
	use(b)
	return len(b)
}

//go:noinline
func use(b []byte) {} // ERROR "b does not escape$"
