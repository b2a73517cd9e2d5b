// Title: Inlining budget
// Shows: small functions are inlined at their call sites (with their cost); a loop-heavy or recursive one exceeds the budget of 80 and stays a call.
package main

import "fmt"

func square(x int) int { return x * x }

func clamp(x, lo, hi int) int {
	if x < lo {
		return lo
	}
	if x > hi {
		return hi
	}
	return x
}

func fib(n int) int {
	if n < 2 {
		return n
	}
	return fib(n-1) + fib(n-2)
}

func main() {
	fmt.Println(square(7), clamp(42, 0, 10), fib(20))
}
