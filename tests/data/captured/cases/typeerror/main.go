package main

func f(a int) int { return a }

func main() {
	x := undefinedThing
	var s string = 1
	f()
}
