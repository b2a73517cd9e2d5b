// Title: Address of a local, returned and stored
// Shows: why `p` and `c` move to the heap (follow the flow to the return and the map store) while `q` stays on the stack.
package main

import "fmt"

type Point struct{ X, Y int }

// newPoint returns the address of a local: the local must outlive the call.
func newPoint(x, y int) *Point {
	p := Point{X: x, Y: y}
	return &p
}

var registry = map[string]*Point{}

// register keeps a pointer in a global map: also an escape.
func register(name string, x, y int) {
	c := Point{X: x, Y: y}
	registry[name] = &c
}

// sum takes the address of a local that never leaves the function.
func sum(x, y int) int {
	q := Point{X: x, Y: y}
	r := &q
	return r.X + r.Y
}

func main() {
	p := newPoint(1, 2)
	register("origin", 0, 0)
	fmt.Println(p.X, sum(3, 4), len(registry))
}
