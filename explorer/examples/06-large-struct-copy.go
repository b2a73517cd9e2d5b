// Title: Large struct copies
// Shows: passing a 1 KiB struct by value copies it at every call (a copy loop, and $1024 of arguments in the TEXT line) while the pointer version passes 8 bytes.
package main

import "fmt"

type Record struct {
	ID      int64
	Payload [1016]byte // 1 KiB in all
}

//go:noinline
func checksumByValue(r Record) int {
	s := 0
	for _, b := range r.Payload {
		s += int(b)
	}
	return s + int(r.ID)
}

//go:noinline
func checksumByPointer(r *Record) int {
	s := 0
	for _, b := range r.Payload {
		s += int(b)
	}
	return s + int(r.ID)
}

func main() {
	var r Record
	r.ID = 7
	r.Payload[0] = 1
	fmt.Println(checksumByValue(r), checksumByPointer(&r))
}
