// Title: Slices that grow
// Shows: append in a loop calls runtime.growslice and the backing array escapes; a make with a constant capacity that does not leave the function stays on the stack.
package main

import "fmt"

func squaresAppend(n int) []int {
	var out []int
	for i := 0; i < n; i++ {
		out = append(out, i*i) // grows: growslice, heap
	}
	return out
}

func squaresPrealloc(n int) []int {
	out := make([]int, 0, n) // size unknown at compile time: heap
	for i := 0; i < n; i++ {
		out = append(out, i*i)
	}
	return out
}

func sumSmall() int {
	buf := make([]int, 0, 16) // constant capacity, does not escape: stack
	for i := 0; i < 16; i++ {
		buf = append(buf, i)
	}
	total := 0
	for _, v := range buf {
		total += v
	}
	return total
}

func main() {
	fmt.Println(len(squaresAppend(10)), len(squaresPrealloc(10)), sumSmall())
}
