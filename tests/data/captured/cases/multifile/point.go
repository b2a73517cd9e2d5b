package main

type Point struct{ X, Y int }

func NewPoint(x, y int) *Point {
	return &Point{x, y}
}

func (p *Point) Norm() int {
	return p.X*p.X + p.Y*p.Y
}
