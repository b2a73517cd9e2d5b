// Graph algorithms and numeric kernels: BFS, DFS, Dijkstra, sorting, matrices.
package main

import (
	"container/heap"
	"fmt"
	"math"
)

type Edge struct {
	To     int
	Weight float64
}

type Graph struct {
	Adj   [][]Edge
	Names []string
}

func NewGraph(n int) *Graph {
	g := &Graph{Adj: make([][]Edge, n), Names: make([]string, n)}
	for i := range g.Names {
		g.Names[i] = fmt.Sprint("v", i)
	}
	return g
}

func (g *Graph) AddEdge(a, b int, w float64) {
	g.Adj[a] = append(g.Adj[a], Edge{b, w})
	g.Adj[b] = append(g.Adj[b], Edge{a, w})
}

func (g *Graph) BFS(start int) []int {
	dist := make([]int, len(g.Adj))
	for i := range dist {
		dist[i] = -1
	}
	dist[start] = 0
	queue := []int{start}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		for _, e := range g.Adj[v] {
			if dist[e.To] < 0 {
				dist[e.To] = dist[v] + 1
				queue = append(queue, e.To)
			}
		}
	}
	return dist
}

func (g *Graph) dfs(v int, seen []bool, order *[]int) {
	seen[v] = true
	for _, e := range g.Adj[v] {
		if !seen[e.To] {
			g.dfs(e.To, seen, order)
		}
	}
	*order = append(*order, v)
}

func (g *Graph) PostOrder() []int {
	seen := make([]bool, len(g.Adj))
	var order []int
	for v := range g.Adj {
		if !seen[v] {
			g.dfs(v, seen, &order)
		}
	}
	return order
}

type item struct {
	v    int
	dist float64
}

type pq []item

func (q pq) Len() int            { return len(q) }
func (q pq) Less(i, j int) bool  { return q[i].dist < q[j].dist }
func (q pq) Swap(i, j int)       { q[i], q[j] = q[j], q[i] }
func (q *pq) Push(x interface{}) { *q = append(*q, x.(item)) }
func (q *pq) Pop() interface{} {
	old := *q
	it := old[len(old)-1]
	*q = old[:len(old)-1]
	return it
}

func (g *Graph) Dijkstra(src int) []float64 {
	dist := make([]float64, len(g.Adj))
	for i := range dist {
		dist[i] = math.Inf(1)
	}
	dist[src] = 0
	q := &pq{{src, 0}}
	for q.Len() > 0 {
		it := heap.Pop(q).(item)
		if it.dist > dist[it.v] {
			continue
		}
		for _, e := range g.Adj[it.v] {
			nd := it.dist + e.Weight
			if nd < dist[e.To] {
				dist[e.To] = nd
				heap.Push(q, item{e.To, nd})
			}
		}
	}
	return dist
}

func InsertionSort(xs []int) {
	for i := 1; i < len(xs); i++ {
		x := xs[i]
		j := i - 1
		for j >= 0 && xs[j] > x {
			xs[j+1] = xs[j]
			j--
		}
		xs[j+1] = x
	}
}

func QuickSort(xs []int) {
	if len(xs) < 12 {
		InsertionSort(xs)
		return
	}
	p := xs[len(xs)/2]
	i, j := 0, len(xs)-1
	for i <= j {
		for xs[i] < p {
			i++
		}
		for xs[j] > p {
			j--
		}
		if i <= j {
			xs[i], xs[j] = xs[j], xs[i]
			i++
			j--
		}
	}
	QuickSort(xs[:j+1])
	QuickSort(xs[i:])
}

func BinarySearch(xs []int, x int) int {
	lo, hi := 0, len(xs)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if xs[mid] < x {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

type Matrix [][]float64

func NewMatrix(r, c int) Matrix {
	m := make(Matrix, r)
	for i := range m {
		m[i] = make([]float64, c)
	}
	return m
}

func (a Matrix) Mul(b Matrix) Matrix {
	out := NewMatrix(len(a), len(b[0]))
	for i := range a {
		for j := range b[0] {
			var s float64
			for k := range b {
				s += a[i][k] * b[k][j]
			}
			out[i][j] = s
		}
	}
	return out
}

func (a Matrix) Transpose() Matrix {
	out := NewMatrix(len(a[0]), len(a))
	for i, row := range a {
		for j, v := range row {
			out[j][i] = v
		}
	}
	return out
}

func Fib(n int) int {
	if n < 2 {
		return n
	}
	return Fib(n-1) + Fib(n-2)
}

func Primes(n int) []int {
	sieve := make([]bool, n+1)
	var ps []int
	for i := 2; i <= n; i++ {
		if sieve[i] {
			continue
		}
		ps = append(ps, i)
		for j := i * i; j <= n; j += i {
			sieve[j] = true
		}
	}
	return ps
}

func GCD(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func Collatz(n int) (steps int) {
loop:
	if n == 1 {
		return
	}
	steps++
	if n%2 == 0 {
		n /= 2
	} else {
		n = 3*n + 1
	}
	goto loop
}

func main() {
	g := NewGraph(6)
	g.AddEdge(0, 1, 1)
	g.AddEdge(1, 2, 2)
	g.AddEdge(2, 3, 1)
	g.AddEdge(3, 4, 5)
	g.AddEdge(0, 5, 9)
	fmt.Println(g.BFS(0), g.PostOrder(), g.Dijkstra(0))
	xs := []int{5, 3, 9, 1, 7, 2, 8, 6, 4, 0, 11, 13, 12, 10}
	QuickSort(xs)
	fmt.Println(xs, BinarySearch(xs, 7))
	m := Matrix{{1, 2}, {3, 4}}
	fmt.Println(m.Mul(m.Transpose()))
	fmt.Println(Fib(10), Primes(30), GCD(12, 18), Collatz(27))
}
