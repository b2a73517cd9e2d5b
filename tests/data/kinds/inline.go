package main

type Shape interface{ Area() int }

type Square struct{ side int }

func (q Square) Area() int { return q.side * q.side }

var sink *int

func add(a, b int) int { return a + b }

//go:noinline
func mul(a, b int) int { return a * b }

func big(xs []int) int {
	total := 0
	for i, x := range xs {
		if x%2 == 0 {
			total += x * i
		} else if x%3 == 0 {
			total -= x / 3
		} else {
			total ^= x << 2
		}
		for j := 0; j < x; j++ {
			total += j * j
			if total > 1000 {
				total = total%97 + add(j, i)
			}
		}
	}
	return total
}

func area(s Shape) int { return s.Area() }

func box(n int) *int {
	p := new(int)
	*p = n
	return p
}

func main() {
	x := add(1, 2)
	y := mul(x, 3)
	_ = big([]int{x, y})
	_ = area(Square{side: 3})
	var s Shape = Square{side: 4}
	_ = s.Area()
	sink = box(y)
}
