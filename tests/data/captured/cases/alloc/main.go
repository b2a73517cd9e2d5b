package main

import "strconv"

type Shape interface{ Area() int }

type Square struct{ side int }

func (s Square) Area() int { return s.side * s.side }

func box(n int) any {
	return n
}

func grow(n int) []int {
	var s []int
	for i := 0; i < n; i++ {
		s = append(s, i)
	}
	return s
}

func makeBuf(n int) []byte {
	return make([]byte, n)
}

func concat(a, b string) string {
	return a + b
}

func toString(b []byte) string {
	return string(b)
}

func counts(words []string) map[string]int {
	m := make(map[string]int)
	for _, w := range words {
		m[w]++
	}
	return m
}

func shapes() []Shape {
	return []Shape{Square{2}, &Square{3}}
}

func main() {
	_ = box(42)
	_ = grow(10)
	_ = makeBuf(100)
	_ = concat("a", strconv.Itoa(3))
	_ = toString([]byte("xyz"))
	_ = counts([]string{"a"})
	_ = shapes()
}
