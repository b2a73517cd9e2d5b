// Title: Bounds checks removed by an early hint
// Shows: sumFour checks s[0]…s[3] one by one; with `_ = s[3]` first, sumFourHinted keeps a single check and the four reads need none.
package main

import "fmt"

func sumFour(s []int) int {
	return s[0] + s[1] + s[2] + s[3]
}

func sumFourHinted(s []int) int {
	_ = s[3] // one check up front proves the four indexes below
	return s[0] + s[1] + s[2] + s[3]
}

func sumAll(s []int) int {
	total := 0
	for i := range s { // i < len(s) is known: no check in the loop
		total += s[i]
	}
	return total
}

func main() {
	s := []int{1, 2, 3, 4, 5}
	fmt.Println(sumFour(s), sumFourHinted(s), sumAll(s))
}
