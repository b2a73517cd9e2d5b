package main

type Node struct {
	next *Node
	val  int
}

var head *Node

func push(v int) {
	head = &Node{next: head, val: v}
}

func link(a, b *Node) {
	a.next = b
}

func get(s []int, i int) int {
	return s[i]
}

func window(s []int, i, j int) []int {
	return s[i:j]
}

func first3(s []int) int {
	return s[0] + s[1] + s[2]
}

func val(n *Node) int {
	return n.val
}

func main() {
	push(1)
	link(head, &Node{})
	s := []int{1, 2, 3, 4}
	println(get(s, 2), len(window(s, 1, 3)), first3(s), val(head))
}
