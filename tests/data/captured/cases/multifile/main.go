package main

func main() {
	p := NewPoint(1, 2)
	println(p.Norm())
}
