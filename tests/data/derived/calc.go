// A calculator: a lexer over bytes, a Pratt parser building a tree, an evaluator with
// variables and functions, and a pretty printer.
package main

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

type Kind uint8

const (
	EOF Kind = iota
	Num
	Ident
	Op
	LParen
	RParen
	Comma
)

type Token struct {
	Kind Kind
	Text string
	Pos  int
}

type Lexer struct {
	src  []byte
	pos  int
	toks []Token
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isAlpha(c byte) bool { return c == '_' || 'a' <= c|0x20 && c|0x20 <= 'z' }

func (lx *Lexer) Lex() ([]Token, error) {
	for lx.pos < len(lx.src) {
		c := lx.src[lx.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			lx.pos++
		case isDigit(c) || c == '.':
			start := lx.pos
			for lx.pos < len(lx.src) && (isDigit(lx.src[lx.pos]) || lx.src[lx.pos] == '.') {
				lx.pos++
			}
			lx.toks = append(lx.toks, Token{Num, string(lx.src[start:lx.pos]), start})
		case isAlpha(c):
			start := lx.pos
			for lx.pos < len(lx.src) && (isAlpha(lx.src[lx.pos]) || isDigit(lx.src[lx.pos])) {
				lx.pos++
			}
			lx.toks = append(lx.toks, Token{Ident, string(lx.src[start:lx.pos]), start})
		case strings.IndexByte("+-*/^%", c) >= 0:
			lx.toks = append(lx.toks, Token{Op, string(c), lx.pos})
			lx.pos++
		case c == '(':
			lx.toks = append(lx.toks, Token{LParen, "(", lx.pos})
			lx.pos++
		case c == ')':
			lx.toks = append(lx.toks, Token{RParen, ")", lx.pos})
			lx.pos++
		case c == ',':
			lx.toks = append(lx.toks, Token{Comma, ",", lx.pos})
			lx.pos++
		default:
			r, _ := utf8.DecodeRune(lx.src[lx.pos:])
			return nil, fmt.Errorf("unexpected %q at %d", r, lx.pos)
		}
	}
	lx.toks = append(lx.toks, Token{Kind: EOF, Pos: lx.pos})
	return lx.toks, nil
}

type Node interface {
	Eval(env *Env) (float64, error)
	String() string
}

type NumNode struct{ V float64 }
type VarNode struct{ Name string }
type BinNode struct {
	Op   byte
	L, R Node
}
type CallNode struct {
	Fn   string
	Args []Node
}

type Env struct {
	vars  map[string]float64
	funcs map[string]func(args []float64) (float64, error)
	depth int
}

func (n NumNode) Eval(*Env) (float64, error) { return n.V, nil }
func (n NumNode) String() string               { return strconv.FormatFloat(n.V, 'g', -1, 64) }

func (n *VarNode) Eval(env *Env) (float64, error) {
	v, ok := env.vars[n.Name]
	if !ok {
		return 0, fmt.Errorf("undefined: %s", n.Name)
	}
	return v, nil
}
func (n *VarNode) String() string { return n.Name }

func (n *BinNode) Eval(env *Env) (float64, error) {
	l, err := n.L.Eval(env)
	if err != nil {
		return 0, err
	}
	r, err := n.R.Eval(env)
	if err != nil {
		return 0, err
	}
	switch n.Op {
	case '+':
		return l + r, nil
	case '-':
		return l - r, nil
	case '*':
		return l * r, nil
	case '/':
		if r == 0 {
			return 0, fmt.Errorf("division by zero in %v", n)
		}
		return l / r, nil
	case '%':
		return math.Mod(l, r), nil
	case '^':
		return math.Pow(l, r), nil
	}
	return 0, fmt.Errorf("bad operator %c", n.Op)
}

func (n *BinNode) String() string { return "(" + n.L.String() + " " + string(n.Op) + " " + n.R.String() + ")" }

func (n *CallNode) Eval(env *Env) (float64, error) {
	f := env.funcs[n.Fn]
	if f == nil {
		return 0, fmt.Errorf("no function %s", n.Fn)
	}
	env.depth++
	defer func() { env.depth-- }()
	args := make([]float64, len(n.Args))
	for i, a := range n.Args {
		v, err := a.Eval(env)
		if err != nil {
			return 0, err
		}
		args[i] = v
	}
	return f(args)
}

func (n *CallNode) String() string {
	parts := make([]string, len(n.Args))
	for i, a := range n.Args {
		parts[i] = a.String()
	}
	return n.Fn + "(" + strings.Join(parts, ", ") + ")"
}

type Parser struct {
	toks []Token
	i    int
}

var precedence = [256]int{'+': 1, '-': 1, '*': 2, '/': 2, '%': 2, '^': 3}

func (p *Parser) peek() Token { return p.toks[p.i] }
func (p *Parser) next() Token  { t := p.toks[p.i]; p.i++; return t }

func (p *Parser) Expr(minPrec int) (Node, error) {
	left, err := p.primary()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.Kind != Op {
			return left, nil
		}
		prec := precedence[t.Text[0]]
		if prec < minPrec {
			return left, nil
		}
		p.next()
		next := prec + 1
		if t.Text[0] == '^' {
			next = prec
		}
		right, err := p.Expr(next)
		if err != nil {
			return nil, err
		}
		left = &BinNode{Op: t.Text[0], L: left, R: right}
	}
}

func (p *Parser) primary() (Node, error) {
	t := p.next()
	switch t.Kind {
	case Num:
		v, err := strconv.ParseFloat(t.Text, 64)
		if err != nil {
			return nil, err
		}
		return NumNode{v}, nil
	case Ident:
		if p.peek().Kind != LParen {
			return &VarNode{t.Text}, nil
		}
		p.next()
		call := &CallNode{Fn: t.Text}
		for p.peek().Kind != RParen {
			arg, err := p.Expr(1)
			if err != nil {
				return nil, err
			}
			call.Args = append(call.Args, arg)
			if p.peek().Kind == Comma {
				p.next()
			}
		}
		p.next()
		return call, nil
	case LParen:
		n, err := p.Expr(1)
		if err != nil {
			return nil, err
		}
		if p.next().Kind != RParen {
			return nil, fmt.Errorf("missing ) at %d", t.Pos)
		}
		return n, nil
	case Op:
		if t.Text == "-" {
			n, err := p.primary()
			if err != nil {
				return nil, err
			}
			return &BinNode{Op: '-', L: NumNode{0}, R: n}, nil
		}
	}
	return nil, fmt.Errorf("unexpected %q at %d", t.Text, t.Pos)
}

func histogram(values []float64, buckets int) []int {
	h := make([]int, buckets)
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range values {
		lo, hi = min(lo, v), max(hi, v)
	}
	width := (hi - lo) / float64(buckets)
	for _, v := range values {
		i := int((v - lo) / width)
		if i >= buckets {
			i = buckets - 1
		}
		h[i]++
	}
	return h
}

func render(h []int) string {
	var buf bytes.Buffer
	for i, n := range h {
		buf.WriteString(strconv.Itoa(i))
		buf.WriteByte('|')
		buf.Write(bytes.Repeat([]byte{'#'}, n))
		buf.WriteByte('\n')
	}
	return buf.String()
}

func main() {
	env := &Env{vars: map[string]float64{"pi": math.Pi, "e": math.E}, funcs: map[string]func([]float64) (float64, error){}}
	env.funcs["sum"] = func(args []float64) (float64, error) {
		s := 0.0
		for _, a := range args {
			s += a
		}
		return s, nil
	}
	env.funcs["sqrt"] = func(args []float64) (float64, error) {
		if len(args) != 1 {
			return 0, fmt.Errorf("sqrt takes 1 argument, got %d", len(args))
		}
		return math.Sqrt(args[0]), nil
	}
	var results []float64
	for _, src := range []string{"1 + 2 * 3", "sum(1, 2, pi) ^ 2", "sqrt(16) / (e - e)", "-x + 1", "2 ^ 3 ^ 2"} {
		lx := &Lexer{src: []byte(src)}
		toks, err := lx.Lex()
		if err != nil {
			fmt.Println(err)
			continue
		}
		p := &Parser{toks: toks}
		n, err := p.Expr(1)
		if err != nil {
			fmt.Println("parse:", err)
			continue
		}
		v, err := n.Eval(env)
		fmt.Println(n, "=", v, err)
		results = append(results, v)
	}
	fmt.Print(render(histogram(results, 4)))
}
