// Title: sync.Pool: pointer to array vs array
// Shows: putting a [4096]byte array in the pool boxes (copies) it on every Put; putting a *[4096]byte stores the pointer and allocates nothing new.
package main

import (
	"fmt"
	"sync"
)

var arrays = sync.Pool{New: func() any { return [4096]byte{} }}

var pointers = sync.Pool{New: func() any { return new([4096]byte) }}

func withArray() int {
	buf := arrays.Get().([4096]byte) // a 4 KiB copy out of the interface
	buf[0] = 1
	n := int(buf[0])
	arrays.Put(buf) // boxed again: a new 4 KiB heap allocation
	return n
}

func withPointer() int {
	buf := pointers.Get().(*[4096]byte)
	buf[0] = 1
	n := int(buf[0])
	pointers.Put(buf) // only the pointer goes into the interface
	return n
}

func main() {
	fmt.Println(withArray(), withPointer())
}
