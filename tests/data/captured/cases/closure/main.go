package main

import "fmt"

func main() {
	var fs []func()
	for i := 0; i < 3; i++ {
		fs = append(fs, func() { fmt.Println(i) })
	}
	for _, v := range []string{"a", "b"} {
		defer func() { println(v) }()
	}
	counter := 0
	inc := func() { counter++ }
	inc()
	for _, f := range fs {
		f()
	}
	println(counter)
}
