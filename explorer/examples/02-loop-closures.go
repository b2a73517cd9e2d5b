// Title: Closures over loop variables
// Shows: with go1.21 each closure shares one `i` moved to the heap; switch the language version to go1.22+ and every iteration gets its own copy captured by value.
// Lang: go1.21
package main

import "fmt"

func main() {
	var funcs []func() int
	for i := 0; i < 3; i++ {
		funcs = append(funcs, func() int { return i * i })
	}
	for _, v := range []string{"a", "b", "c"} {
		defer func() { fmt.Print(v, " ") }()
	}
	for _, f := range funcs {
		fmt.Println(f())
	}
}
