// Range over functions and integers (go1.23+), each costly decision's line marked as in
// marked_shapes.go.
package main

import (
	"fmt"
	"iter"
)

type T struct{ a, b int }

var sink []*T

// Not inlined: the loop body becomes a function of its own (main.opaque-range1) that
// the iterator calls once per element.
//
//go:noinline
func count(n int) iter.Seq[int] {
	return func(yield func(int) bool) {
		for i := 0; i < n; i++ {
			if !yield(i) {
				return
			}
		}
	}
}

func pairs(n int) iter.Seq2[int, int] {
	return func(yield func(int, int) bool) {
		for i := 0; i < n; i++ {
			if !yield(i, i*i) {
				return
			}
		}
	}
}

func opaque(n int) {
	for i := range count(n) { // once
		sink = append(sink, &T{i, 0}) // loop
	}
	last := &T{n, 0} // once
	fmt.Println(last)
}

// pairs is inlined, and the body into it: the compiler reports the body's decisions at
// the range statement, which is in the inlined iterator's loop.
func inlined(n int) {
	for i, sq := range pairs(n) { // loop
		if sq > 50 {
			break
		}
		sink = append(sink, &T{i, sq})
	}
	fmt.Println(len(sink), n) // once
}

func ints(n int) {
	for i := range n {
		sink = append(sink, &T{i, i}) // loop
	}
	fmt.Println(n) // once
}

func main() {
	opaque(3)
	inlined(4)
	ints(2)
}
