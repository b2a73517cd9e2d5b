// A tiny bytecode interpreter, a lexer written with goto, and a worker pool.
package main

import (
	"fmt"
	"strconv"
	"sync"
)

type Op byte

const (
	OpPush Op = iota
	OpAdd
	OpSub
	OpMul
	OpDup
	OpSwap
	OpJmp
	OpJz
	OpPrint
	OpHalt
	OpNeg
	OpPop
)

type Instr struct {
	Op  Op
	Arg int
}

type Frame struct {
	regs [32]int
	name string
}

type VM struct {
	stack  []int
	out    []string
	frames []Frame
	trace  func(pc int, in Instr)
}

func (vm *VM) push(x int) { vm.stack = append(vm.stack, x) }

func (vm *VM) pop() int {
	x := vm.stack[len(vm.stack)-1]
	vm.stack = vm.stack[:len(vm.stack)-1]
	return x
}

func (vm *VM) Run(prog []Instr) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("vm: %v", r)
		}
	}()
	pc := 0
	for steps := 0; steps < 10000; steps++ {
		in := prog[pc]
		if vm.trace != nil {
			vm.trace(pc, in)
		}
		pc++
		switch in.Op {
		case OpPush:
			vm.push(in.Arg)
		case OpAdd:
			vm.push(vm.pop() + vm.pop())
		case OpSub:
			b, a := vm.pop(), vm.pop()
			vm.push(a - b)
		case OpMul:
			vm.push(vm.pop() * vm.pop())
		case OpDup:
			x := vm.pop()
			vm.push(x)
			vm.push(x)
		case OpSwap:
			b, a := vm.pop(), vm.pop()
			vm.push(b)
			vm.push(a)
		case OpJmp:
			pc = in.Arg
		case OpJz:
			if vm.pop() == 0 {
				pc = in.Arg
			}
		case OpPrint:
			vm.out = append(vm.out, strconv.Itoa(vm.pop()))
		case OpNeg:
			vm.push(-vm.pop())
		case OpPop:
			vm.pop()
		case OpHalt:
			return nil
		}
	}
	return fmt.Errorf("too many steps")
}

func (vm *VM) SaveFrames(n int) {
	for i := 0; i < n; i++ {
		var f Frame
		for r := range f.regs {
			f.regs[r] = i * r
		}
		f.name = "frame"
		vm.frames = append(vm.frames, f)
	}
}

func (vm *VM) SumFrames() int {
	total := 0
	for _, f := range vm.frames {
		for _, r := range f.regs {
			total += r
		}
	}
	return total
}

type Lexeme struct {
	Kind string
	Text string
}

// Lex uses goto between states, the way generated lexers do.
func Lex(s string) []Lexeme {
	var out []Lexeme
	i, start := 0, 0
start:
	if i >= len(s) {
		return out
	}
	start = i
	if s[i] >= '0' && s[i] <= '9' {
		goto number
	}
	if s[i] == ' ' {
		i++
		goto start
	}
	goto ident
number:
	i++
	if i < len(s) && s[i] >= '0' && s[i] <= '9' {
		goto number
	}
	out = append(out, Lexeme{"num", s[start:i]})
	goto start
ident:
	i++
	if i < len(s) && s[i] != ' ' && !(s[i] >= '0' && s[i] <= '9') {
		goto ident
	}
	out = append(out, Lexeme{"id", s[start:i]})
	goto start
}

// Irreducible: two entries into the same cycle.
func Twist(n int, odd bool) []int {
	var out []int
	i := 0
	if odd {
		goto b
	}
a:
	out = append(out, i)
	i++
b:
	if i < n {
		i += 2
		goto a
	}
	return out
}

func Pool(jobs []int, workers int) []string {
	in := make(chan int)
	out := make(chan string)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			for j := range in {
				out <- fmt.Sprintf("w%d:%d", id, j*j)
			}
		}(w)
	}
	go func() {
		for _, j := range jobs {
			in <- j
		}
		close(in)
	}()
	go func() {
		wg.Wait()
		close(out)
	}()
	var results []string
	for r := range out {
		results = append(results, r)
	}
	return results
}

func Drain(c chan int, quit chan bool) (sum int) {
	for {
		select {
		case v := <-c:
			sum += v
		case <-quit:
			return
		}
	}
}

func Closures(n int) []func() int {
	var fs []func() int
	for i := 0; i < n; i++ {
		x := i * 2
		fs = append(fs, func() int { return x })
	}
	return fs
}

func DeferInLoop(names []string) (out []string) {
	for _, n := range names {
		defer func(s string) { out = append(out, s) }(n)
	}
	return nil
}

func main() {
	prog := []Instr{{OpPush, 5}, {OpDup, 0}, {OpPrint, 0}, {OpPush, 1}, {OpSub, 0}, {OpDup, 0}, {OpJz, 8}, {OpJmp, 1}, {OpHalt, 0}}
	vm := &VM{}
	if err := vm.Run(prog); err != nil {
		fmt.Println(err)
	}
	vm.SaveFrames(3)
	fmt.Println(vm.out, vm.SumFrames(), Lex("ab 12 cd3"), Twist(7, true))
	fmt.Println(len(Pool([]int{1, 2, 3}, 2)), len(Closures(3)), DeferInLoop([]string{"a", "b"}))
	c, q := make(chan int, 1), make(chan bool, 1)
	c <- 4
	q <- true
	fmt.Println(Drain(c, q))
}
