package main

var funcs []func() int
var ptrs []*int

func closures(xs []int) {
	for _, v := range xs {
		funcs = append(funcs, func() int { return v })
	}
}

func addresses() {
	for i := 0; i < 3; i++ {
		ptrs = append(ptrs, &i)
	}
}

func local(xs []int) int {
	total := 0
	for _, v := range xs {
		get := func() int { return v }
		total += get()
	}
	return total
}

func main() {
	closures([]int{1, 2})
	addresses()
	_ = local([]int{3})
}
