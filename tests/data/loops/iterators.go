// Generic collections with iterators (range over functions and integers: go1.23+).
package main

import (
	"cmp"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"
)

type Pair[K comparable, V any] struct {
	Key K
	Val V
}

type OrderedMap[K cmp.Ordered, V any] struct {
	keys []K
	vals map[K]V
}

func NewOrderedMap[K cmp.Ordered, V any]() *OrderedMap[K, V] {
	return &OrderedMap[K, V]{vals: map[K]V{}}
}

func (m *OrderedMap[K, V]) Set(k K, v V) {
	if _, ok := m.vals[k]; !ok {
		i, _ := slices.BinarySearch(m.keys, k)
		m.keys = slices.Insert(m.keys, i, k)
	}
	m.vals[k] = v
}

func (m *OrderedMap[K, V]) All() iter.Seq2[K, V] {
	return func(yield func(K, V) bool) {
		for _, k := range m.keys {
			if !yield(k, m.vals[k]) {
				return
			}
		}
	}
}

func (m *OrderedMap[K, V]) Pairs() []Pair[K, V] {
	var out []Pair[K, V]
	for k, v := range m.All() {
		out = append(out, Pair[K, V]{k, v})
	}
	return out
}

func Filter[T any](seq iter.Seq[T], keep func(T) bool) iter.Seq[T] {
	return func(yield func(T) bool) {
		for x := range seq {
			if keep(x) && !yield(x) {
				return
			}
		}
	}
}

func Map[T, U any](seq iter.Seq[T], f func(T) U) iter.Seq[U] {
	return func(yield func(U) bool) {
		for x := range seq {
			if !yield(f(x)) {
				return
			}
		}
	}
}

func Take[T any](seq iter.Seq[T], n int) iter.Seq[T] {
	return func(yield func(T) bool) {
		if n <= 0 {
			return
		}
		i := 0
		for x := range seq {
			if !yield(x) {
				return
			}
			i++
			if i == n {
				return
			}
		}
	}
}

func Naturals() iter.Seq[int] {
	return func(yield func(int) bool) {
		for i := 0; ; i++ {
			if !yield(i) {
				return
			}
		}
	}
}

func Collect[T any](seq iter.Seq[T]) []T {
	var out []T
	for x := range seq {
		out = append(out, x)
	}
	return out
}

type Point struct{ X, Y int }

func Grid(w, h int) []*Point {
	var pts []*Point
	for y := range h {
		for x := range w {
			pts = append(pts, &Point{x, y})
		}
	}
	return pts
}

func SumSquares(n int) int {
	total := 0
	for i := range n {
		total += i * i
	}
	p := &Point{total, n}
	fmt.Println(p)
	return total
}

func Lines(s string) iter.Seq2[int, string] {
	return func(yield func(int, string) bool) {
		n := 0
		for line := range strings.SplitSeq(s, "\n") {
			if !yield(n, line) {
				return
			}
			n++
		}
	}
}

func LongestLine(s string) (int, string) {
	best, bestN := "", -1
	for n, line := range Lines(s) {
		if len(line) > len(best) {
			best, bestN = line, n
		}
		if n > 1000 {
			break
		}
	}
	label := fmt.Sprintf("%d:%s", bestN, best)
	return bestN, label
}

func Histogram(words []string) map[string]int {
	h := map[string]int{}
	for _, w := range words {
		h[strings.ToLower(w)]++
	}
	for _, k := range slices.Sorted(maps.Keys(h)) {
		if h[k] == 1 {
			delete(h, k)
		}
	}
	return h
}

func Chunk[T any](xs []T, n int) [][]T {
	var out [][]T
	for c := range slices.Chunk(xs, n) {
		out = append(out, slices.Clone(c))
	}
	return out
}

type Tree[T cmp.Ordered] struct {
	Left, Right *Tree[T]
	Val         T
}

func (t *Tree[T]) Insert(v T) *Tree[T] {
	if t == nil {
		return &Tree[T]{Val: v}
	}
	if v < t.Val {
		t.Left = t.Left.Insert(v)
	} else {
		t.Right = t.Right.Insert(v)
	}
	return t
}

func (t *Tree[T]) Walk(yield func(T) bool) bool {
	if t == nil {
		return true
	}
	return t.Left.Walk(yield) && yield(t.Val) && t.Right.Walk(yield)
}

func (t *Tree[T]) All() iter.Seq[T] {
	return func(yield func(T) bool) { t.Walk(yield) }
}

func Sorted(xs []int) []int {
	var root *Tree[int]
	for _, x := range xs {
		root = root.Insert(x)
	}
	out := make([]int, 0, len(xs))
	for v := range root.All() {
		out = append(out, v)
	}
	return out
}

func main() {
	m := NewOrderedMap[string, int]()
	for i, w := range []string{"pear", "apple", "fig"} {
		m.Set(w, i)
	}
	fmt.Println(m.Pairs())
	evens := Filter(Naturals(), func(x int) bool { return x%2 == 0 })
	fmt.Println(Collect(Take(Map(evens, func(x int) string { return fmt.Sprint(x) }), 5)))
	fmt.Println(len(Grid(3, 2)), SumSquares(10))
	fmt.Println(LongestLine("a\nbbb\ncc"))
	fmt.Println(Histogram([]string{"a", "A", "b"}), Chunk([]int{1, 2, 3, 4, 5}, 2), Sorted([]int{3, 1, 2}))
}
