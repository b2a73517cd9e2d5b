package main

import "fmt"

type Animal interface{ Sound() string }

type Dog struct{ name string }

func (d *Dog) Sound() string { return d.name + " says woof" }

func add(a, b int) int { return a + b }

//go:noinline
func mul(a, b int) int { return a * b }

func fib(n int) int {
	if n < 2 {
		return n
	}
	return fib(n-1) + fib(n-2)
}

func big(xs []int) int {
	t := 0
	for i := range xs {
		for j := range xs {
			if xs[i] > xs[j] {
				t += xs[i] - xs[j]
			} else {
				t -= xs[j] * 2
			}
		}
	}
	fmt.Println(t, len(xs), cap(xs))
	fmt.Println(t, len(xs), cap(xs))
	return t
}

func speak() string {
	var a Animal = &Dog{"rex"}
	return a.Sound()
}

func methodValue(d *Dog) func() string {
	return d.Sound
}

func main() {
	fmt.Println(add(1, 2), mul(3, 4), fib(10), big([]int{1, 2}), speak())
	f := methodValue(&Dog{"fido"})
	_ = f()
}
