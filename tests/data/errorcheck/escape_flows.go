// errorcheck -0 -m=2 -l

// -m=2: the explanation printed before each decision, at the decision's position:
// a header, then "flow:" steps and the "from ... at file:line:col" lines under them.
// Go 1.25 added " in <function>" to the headers and prints "←" where older
// toolchains print "=".

package flows

var sink *int

func leak(x int) { // ERROR "x escapes to heap( in leak)?:$" "parameter x leaks to {heap}( for leak)? with derefs=0:$" "moved to heap: x$" "flow: p (←|=) &x:$" "from &x \(address-of\) at LINE+1" "from sink = p \(assign\) at LINE+2" "flow: {heap} (←|=) p:$"
	p := &x
	sink = p
}

type T struct{ v int }

func newT() *T {
	t := T{1} // ERROR "t escapes to heap( in newT)?:$" "flow: ~r0 (←|=) &t:$" "from return &t \(return\) at LINE+1" "moved to heap: t$"
	return &t
}

func keep(p *int) int { // ERROR "p does not escape$"
	return *p
}
