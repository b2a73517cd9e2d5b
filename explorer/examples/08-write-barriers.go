// Title: Pointer stores with write barriers
// Shows: storing a pointer into a global or into a field of a heap object needs a GC write barrier; storing an int or into a stack value does not.
package main

import "fmt"

type Node struct {
	Value int
	Next  *Node
}

var head *Node

//go:noinline
func push(n *Node) {
	n.Next = head // field of a heap object: write barrier
	head = n      // global pointer: write barrier
}

//go:noinline
func setValue(n *Node, v int) {
	n.Value = v // not a pointer: no write barrier
}

func localLink() int {
	var a, b Node // on the stack: no write barrier
	a.Next = &b
	b.Value = 2
	return a.Next.Value
}

func main() {
	push(&Node{Value: 1})
	setValue(head, 3)
	fmt.Println(head.Value, localLink())
}
