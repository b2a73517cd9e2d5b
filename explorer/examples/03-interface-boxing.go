// Title: Interface boxing
// Shows: ints passed to fmt.Println or stored in an interface are boxed (runtime.convT64 in the assembly); constants are boxed from read-only data without allocating.
package main

import "fmt"

type Shape interface{ Area() float64 }

type Square struct{ Side float64 }

func (s Square) Area() float64 { return s.Side * s.Side }

var (
	shapes []Shape
	sink   interface{}
)

//go:noinline
func report(n, m int) {
	fmt.Println(n, m) // each argument is boxed into an interface: convT64
	fmt.Println(1000) // a constant: no allocation
}

func main() {
	report(3, 4000)

	sink = len(shapes) * 1000 // boxed into an empty interface kept in a global

	shapes = append(shapes, Square{Side: 2}) // a struct boxed into Shape, kept in a global

	var s Shape = Square{Side: 3} // devirtualized: the concrete type is known
	fmt.Println(s.Area())
}
