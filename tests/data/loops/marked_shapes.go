// Loop shapes, each costly decision's line marked: "// loop" (it runs in a loop) or
// "// once" (it does not). tests/test_loops.py checks every marked line.
package main

import "fmt"

type T struct{ a, b int }

type Big struct{ words [40]int }

var sink []*T
var bigs []Big

//go:noinline
func f(i int) int { return i * 2 }

// The case: the compiler spills total inside the loop with the position of
// the line that reads it after the loop.
func after(n int) {
	total := 0
	for i := 0; i < n; i++ {
		total += f(i)
	}
	t := &T{total, n}     // once
	fmt.Println(t, total) // once
}

func between(n int) {
	for i := 0; i < n; i++ {
		sink = append(sink, &T{i, 0}) // loop
	}
	mid := &T{n, n}          // once
	sink = append(sink, mid) // once
	for i := 0; i < n; i++ {
		sink = append(sink, &T{0, i}) // loop
	}
}

func nested(n, m int) [][]*T {
	grid := make([][]*T, n) // once
	for i := range grid {
		grid[i] = make([]*T, m) // loop
		for j := range grid[i] {
			grid[i][j] = &T{i, j} // loop
		}
	}
	return grid
}

func control(xs []int) {
	for i, x := range xs {
		if x < 0 {
			continue
		}
		if x > 100 {
			break
		}
		sink = append(sink, &T{i, x}) // loop
	}
	i := 0
again:
	if i < len(xs) {
		sink = append(sink, &T{xs[i], i}) // loop
		i++
		goto again
	}
	fmt.Println(len(sink)) // once
}

// Irreducible: the cycle a -> b -> a is entered at a or at b, so no block dominates it.
func twist(n int, odd bool) {
	i := 0
	if odd {
		goto b
	}
a:
	sink = append(sink, &T{i, 0}) // loop
	i++
b:
	if i < n {
		i += 2
		goto a
	}
	fmt.Println(i) // once
}

func mk(i int) *T { return &T{i, i} } // once

func callsInLoop(n int) {
	for i := 0; i < n; i++ {
		sink = append(sink, mk(i)) // loop
	}
	sink = append(sink, mk(-1)) // once
}

func fib(n int) *T {
	if n < 2 {
		return &T{n, 0} // once
	}
	a, b := fib(n-1), fib(n-2)
	return &T{a.a + b.a, 0} // once
}

func header(n int) int {
	s := 0
	for _, x := range make([]int, n) { // once
		s += x
	}
	return s
}

func copies(b *Big, n int) {
	local := *b                // once
	bigs = append(bigs, local) // once
	for i := 0; i < n; i++ {
		c := *b // loop
		c.words[0] = i
		bigs = append(bigs, c) // loop
	}
}

// A dense switch: a jump table on amd64 and arm64.
func dispatch(ops []int) {
	for _, op := range ops {
		switch op {
		case 0:
			sink = append(sink, &T{op, 0}) // loop
		case 1:
			sink = append(sink, &T{op, 1}) // loop
		case 2:
			sink = append(sink, &T{op, 2}) // loop
		case 3:
			sink = append(sink, &T{op, 3}) // loop
		case 4:
			sink = append(sink, &T{op, 4}) // loop
		case 5:
			sink = append(sink, &T{op, 5}) // loop
		case 6:
			sink = append(sink, &T{op, 6}) // loop
		case 7:
			sink = append(sink, &T{op, 7}) // loop
		}
	}
	done := &T{len(ops), 0}   // once
	sink = append(sink, done) // once
}

func main() {
	after(3)
	between(3)
	nested(2, 2)
	control([]int{1, 2})
	twist(5, true)
	callsInLoop(3)
	fib(5)
	header(3)
	copies(&Big{}, 2)
	dispatch([]int{1, 2})
}
