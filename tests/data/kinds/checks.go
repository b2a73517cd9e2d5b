package main

type Node struct {
	next *Node
	val  int
}

var head *Node

func push(n *Node) {
	n.next = head
	head = n
}

func at(s []int, i int) int {
	return s[i]
}

func window(s []int, i, j int) []int {
	return s[i:j]
}

func val(n *Node) int {
	return n.val
}

func main() {
	n := &Node{val: 1}
	push(n)
	s := []int{1, 2, 3}
	_ = at(s, 1)
	_ = window(s, 0, 2)
	_ = val(n)
}
