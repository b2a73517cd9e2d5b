// errorcheck -0 -d=ssa/prove/debug=1,ssa/check_bce/debug=1

// The prove pass (-d=ssa/prove/debug=1): the bounds checks it proved unneeded,
// the induction variables it found; -d=ssa/check_bce/debug=1: the checks left.

package prove

func sum(a []int) int {
	s := 0
	for i := 0; i < len(a); i++ { // ERROR "Induction variable: limits \[0,\?\), increment 1$"
		s += a[i] // ERROR "Proved IsInBounds$"
	}
	return s
}

func guarded(a []int) int {
	if len(a) > 3 {
		return a[0] + a[3] // ERROR "Proved IsInBounds$"
	}
	return 0
}

func unguarded(a []int, i int) int {
	return a[i] // ERROR "Found IsInBounds$"
}
