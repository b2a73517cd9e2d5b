package main

var funcs []func() int

func counter() {
	n := 0
	funcs = append(funcs, func() int {
		n++
		return n
	})
}

func adder(k int) {
	funcs = append(funcs, func() int {
		return k + 1
	})
}

func main() {
	counter()
	adder(2)
}
