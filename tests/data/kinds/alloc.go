package main

import "fmt"

type Point struct{ X, Y int }

//go:noinline
func newPoint(x, y int) *Point {
	return &Point{X: x, Y: y}
}

//go:noinline
func makeInts(n int) []int {
	return make([]int, n)
}

//go:noinline
func join(a, b string) string {
	return a + b
}

//go:noinline
func grow(s []int, v int) []int {
	return append(s, v)
}

//go:noinline
func sumArray(i int) int {
	var buf [64]int
	for j := range buf {
		buf[j] = j * i
	}
	return buf[i%64]
}

//go:noinline
func leaf(a int) int {
	return a + 1
}

func main() {
	p := newPoint(1, 2)
	s := makeInts(p.X)
	s = grow(s, 3)
	fmt.Println(join("a", "b"), len(s), sumArray(2), leaf(1))
}
