// errorcheck -0 -m=2 -l -d=closure=1

// Closures: what each captures and how (-m=2), whether it escapes, and where it is
// allocated (-d=closure=1).

package closure

var sink func() int

func byValue(x int) int { // ERROR "byValue capturing by value: x \(addr=false assign=false width=8\)$"
	f := func() int { return x + 1 } // ERROR "func literal does not escape$" "stack closure, captured vars = \[x\]$"
	return f()
}

func byRef() func() int {
	n := 0 // ERROR "byRef capturing by ref: n \(addr=false assign=true width=8\)$" "moved to heap: n$" "n escapes to heap( in byRef)?:$" "from n \(captured by a closure\) at LINE+2"
	return func() int { // ERROR "func literal escapes to heap$" "heap closure, captured vars = \[n\]$"
		n++
		return n
	}
}

func stored(x int) { // ERROR "stored capturing by value: x" "parameter x leaks to {storage for func literal}"
	sink = func() int { return x } // ERROR "func literal escapes to heap$" "heap closure, captured vars = \[x\]$"
}
