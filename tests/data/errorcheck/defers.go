// errorcheck -0 -d=defer=1

// -d=defer=1: how each defer is compiled. A defer in a loop is heap-allocated; a
// function with more than 8 defers gets stack-allocated ones; otherwise open-coded.

package defers

func unlock() {}

func open() {
	defer unlock() // ERROR "open-coded defer$"
}

func loop(n int) {
	for i := 0; i < n; i++ {
		defer unlock() // ERROR "heap-allocated defer$"
	}
}

func many() {
	defer unlock() // ERROR "stack-allocated defer$"
	defer unlock() // ERROR "stack-allocated defer$"
	defer unlock() // ERROR "stack-allocated defer$"
	defer unlock() // ERROR "stack-allocated defer$"
	defer unlock() // ERROR "stack-allocated defer$"
	defer unlock() // ERROR "stack-allocated defer$"
	defer unlock() // ERROR "stack-allocated defer$"
	defer unlock() // ERROR "stack-allocated defer$"
	defer unlock() /* // ERROR "stack-allocated defer$" (an ERROR inside a block comment counts) */
}
