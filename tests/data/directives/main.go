package main

import "fmt"

type T struct{ a, b int }

func small(x int) int { return x + 1 }

func big(x int) int {
	s := 0
	for i := 0; i < x; i++ {
		s += i * x
		if s > 1000 {
			fmt.Println(s)
		}
		s ^= i << 3
		s += i % 7
		s -= i / 3
		fmt.Println(s, i, x)
	}
	return s
}

//gcassert:inline
func helper(x int) int { return x * 2 }

// unused is never called: its directive cannot be decided.
//
//gcassert:inline
func unused(x int) int { return x - 1 }

func sum(xs []int) int {
	t := 0
	for i := range xs {
		t += xs[i] //gcassert:bce
	}
	//gcassert:bce
	t += xs[5]
	return t
}

func newT() *T {
	//gcassert:noescape
	t := T{1, 2}
	return &t
}

func stackT() int {
	t := T{1, 2} //gcassert:noescape
	p := &t
	return p.a
}

func alloc(n int) []int {
	return make([]int, n) //gcassert:noalloc
}

func noalloc() int {
	b := make([]int, 8) //gcassert:noalloc
	return len(b)
}

func first[E any](xs []E) E {
	return xs[0] //gcassert:bce
}

func main() {
	a := small(1) //gcassert:inline
	//gcassert:inline

	b := big(2)
	c := helper(3) + helper(4)
	//gcassert:frobnicate
	fmt.Println(a, b, c, sum([]int{1, 2, 3, 4, 5, 6}), newT(), stackT(), alloc(3), noalloc())
	fmt.Println("<img src=x onerror=alert(1)>") // gcassert:noalloc
}
