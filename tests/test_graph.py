"""The escape graph (explorer/graph.py, GET /s/<id>/graph/<function>): the model from a
real compile, DOT that no name can break out of, Graphviz's SVG rebuilt from an allow
list, the page (404s, cache, no Graphviz), and a large program under the node cap."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest
from django.core.cache import cache
from django.utils import timezone

from explorer import graph
from explorer.models import Compilation, Status
from tests.conftest import NEWEST_GO
from worker import compiler
from worker.analysis import SourceFile

PROGRAM = """package main

type T struct{ a, b int }

var sink any

func newT() *T {
	t := T{1, 2}
	p := &t
	q := p
	return q
}

func leak(p *int) {
	sink = p
}

func counter() func() int {
	n := 0
	return func() int {
		n++
		s := &T{n, n}
		sink = s
		return n
	}
}

func sum(a, b int) int { return a + b }

func main() {
	x := 3
	leak(&x)
	_ = newT()
	c := counter()
	println(c(), sum(1, 2))
}
"""

HAS_DOT = shutil.which("dot") is not None


@pytest.fixture
def needs_dot():
    if not HAS_DOT:
        pytest.fail("Graphviz (dot) is not installed (scripts/setup.sh installs it)")


PERMALINK = "/s/aaaaaaaaaaaaaaaa"


def compile_source(source: str) -> dict:
    analysis = compiler.compile_request(compiler.CompileRequest(files=[SourceFile("main.go", source)], go=NEWEST_GO))
    assert analysis.status == "ok", analysis.errors
    return analysis.to_dict()


@pytest.fixture(scope="module")
def analysis() -> dict:
    return compile_source(PROGRAM)


def links_of(analysis: dict) -> graph.Links:
    return graph.Links(PERMALINK, [f["name"] for f in analysis["files"]])


def named(g: graph.Graph) -> dict[str, graph.Node]:
    return {n.name: n for n in g.nodes}


def edges_by_names(g: graph.Graph, links: graph.Links) -> dict[tuple[str, str], list[str]]:
    out: dict[tuple[str, str], list[str]] = {}
    for e in g.edges:
        out.setdefault((g.node(e.src).name, g.node(e.dst).name), []).append(graph.edge_label(e, links))
    return out


# -- the model, from a real compile ------------------------------------------------------


def test_an_address_returned_through_two_assignments(analysis):
    g = graph.build_graph(analysis, "main.newT")
    links = links_of(analysis)
    nodes = named(g)
    assert set(nodes) == {"t", "p", "q", "~r0", "{heap}"}
    assert (nodes["t"].kind, nodes["t"].line, nodes["t"].decisions) == ("variable", 8, ["moved to heap"])
    assert nodes["~r0"].kind == "result" and nodes["{heap}"].kind == "heap"
    assert (nodes["p"].line, nodes["q"].line, nodes["~r0"].line) == (9, 10, 11)
    assert edges_by_names(g, links) == {
        ("t", "p"): ["& address-of, assign · L9"],
        ("p", "q"): ["assign · L10"],
        ("q", "~r0"): ["return · L11"],
        ("t", "{heap}"): ["moved to heap · L8"],
    }
    assert g.clusters == ["main.newT"] and {n.cluster for n in g.nodes} == {"main.newT", ""}
    assert [(d.kind, d.subject, d.line) for d in g.decisions] == [("moved-to-heap", "t", 8)]
    assert g.collapsed == 0 and g.hidden_nodes == []


def test_a_parameter_leaking_to_the_heap(analysis):
    g = graph.build_graph(analysis, "main.leak")
    links = links_of(analysis)
    p = named(g)["p"]
    assert (p.kind, p.line, p.decisions) == ("param", 14, ["leaking param"])
    # the flow already reaches the heap: no second, decision-only edge
    assert edges_by_names(g, links) == {("p", "{heap}"): ["interface-converted, assign · L15"]}


def test_a_closure_capturing_by_reference_and_clusters_per_function(analysis):
    g = graph.build_graph(analysis, "main.counter")
    links = links_of(analysis)
    nodes = named(g)
    assert nodes["n"].decisions == ["moved to heap"]
    literal = nodes["{storage for func literal}"]
    assert literal.kind == "storage" and literal.decisions == ["escapes to heap"]
    edges = edges_by_names(g, links)
    assert edges[("n", "{storage for func literal}")] == ["& captured by a closure, reference · L21"]
    assert edges[("{storage for func literal}", "~r0")] == ["& spill, return · L20"]
    assert edges[("n", "{heap}")] == ["moved to heap · L19"]
    # the closure's own allocation is in the graph of counter, in a cluster of its own
    assert g.clusters[0] == "main.counter" and "main.counter.func1" in g.clusters
    inner = [n for n in g.nodes if n.cluster == "main.counter.func1"]
    assert {n.name for n in inner} >= {"s", "{storage for &T{...}}"}
    dot = graph.to_dot(g, links)
    assert dot.count("subgraph cluster_") == len({n.cluster for n in g.drawn_nodes} - {""})
    assert 'label="main.counter.func1"' in dot


def test_only_functions_with_a_heap_decision_have_a_graph(analysis):
    assert graph.build_graph(analysis, "main.sum") is None
    assert graph.build_graph(analysis, "main.nope") is None
    assert {"main.newT", "main.leak", "main.counter", "main.main"} <= graph.graph_functions(analysis)
    assert "main.sum" not in graph.graph_functions(analysis)


def test_the_scope_of_a_function_is_itself_and_its_closures():
    assert graph.in_scope("main.f", "main.f")
    for closure in ("main.f.func1", "main.f.func1.2", "main.f-range1", "main.f.func1#TvuX58xFILk=#"):
        assert graph.in_scope("main.f", closure), closure
        assert graph.enclosing(closure) == "main.f"
    for other in ("main.ff", "main.f2", "main.f.funcy", "main.T.f", "", "main"):
        assert not graph.in_scope("main.f", other), other


@pytest.mark.usefixtures("needs_dot")
def test_the_svg_of_a_real_graph_links_each_node_to_its_line(analysis):
    g = graph.build_graph(analysis, "main.newT")
    svg = graph.render_svg(g, links_of(analysis))
    root = ET.fromstring(svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    for name in ("t · L8", "p · L9", "q · L10", "~r0 · L11", "{heap}", "main.newT", "& address-of, assign · L9"):
        assert name in texts, name
    hrefs = {a.get("href") for a in root.iter("{http://www.w3.org/2000/svg}a")}
    assert hrefs == {f"{PERMALINK}#L{n}" for n in (8, 9, 10, 11)}
    names = {a.get("aria-label") for a in root.iter("{http://www.w3.org/2000/svg}a")}
    assert "t · L8, moved to heap" in names and "p · L9" in names  # what it shows, first
    titles = {t.text for t in root.iter("{http://www.w3.org/2000/svg}title")}
    assert "t, line 8, moved to heap" in titles and "t → p: & address-of, assign · L9" in titles
    assert "style=" not in svg and "<script" not in svg and "xlink" not in svg


# -- DOT: nothing breaks out of a quoted string ------------------------------------------

HOSTILE = [
    '"\\"><script>alert(1)</script>"',
    '"]; evil [label="pwned"]; x [label="',
    "back\\",
    "\\N\\G\\l\\r\\n",
    "a\nb\rc\x00d\x1b",
    "&lt;b&gt; &amp; &xyz; &#0;",
    "}} digraph { a -> b }",
    "<table><tr><td>html</td></tr></table>",
    "←\u202e",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_dot_quote_keeps_any_text_inside_its_quotes(text):
    quoted = graph.dot_quote(text)
    assert quoted.startswith('"') and quoted.endswith('"')
    inner = quoted[1:-1]
    # every quote and backslash inside is escaped: an even run of backslashes never precedes a quote
    assert not re.search(r'(?<!\\)(?:\\\\)*"', inner)
    assert not inner.endswith("\\") or re.search(r"(?<!\\)(?:\\\\)+$", inner)
    assert "\n" not in inner and "\r" not in inner and "\x00" not in inner


def hostile_analysis() -> dict:
    """Crafted flows whose names quote source text: string literals with quotes,
    backslashes, DOT syntax, HTML, entities and ``←``."""
    diagnostics = []
    for i, text in enumerate(HOSTILE):
        name = "{storage for " + text + " + s}"
        line = 10 + i
        diagnostics.append(
            {
                "file": "main.go",
                "line": line,
                "column": 7,
                "kind": "escapes-to-heap",
                "message": f"{text} + s escapes to heap",
                "function": "main.f",
                "explanation": "",
                "inlined_from": "",
                "details": {"subject": f"{text} + s"},
                "flow": [
                    {"file": "main.go", "line": line, "column": 7, "message": f"flow: x{i} ← &{name}:", "depth": 1},
                    {
                        "file": "main.go",
                        "line": line,
                        "column": 7,
                        "message": f"from {text} (spill) at main.go:{line}:7",
                        "depth": 2,
                    },
                    {"file": "main.go", "line": line, "column": 7, "message": f"flow: {{heap}} ← x{i}:", "depth": 1},
                    {
                        "file": "main.go",
                        "line": line,
                        "column": 7,
                        "message": f'from "{text}" (javascript:alert(1)) at main.go:{line}:7',
                        "depth": 2,
                    },
                ],
            }
        )
    return {
        "files": [{"name": "main.go", "text": "package main\n" * 40}],
        "diagnostics": diagnostics,
        "status": "ok",
    }


def test_hostile_names_are_nodes_of_their_own_in_the_model():
    g = graph.build_graph(hostile_analysis(), "main.f")
    names = {n.name for n in g.nodes}
    for text in HOSTILE:
        assert "{storage for " + text + " + s}" in names
    # a reason that is not a plain word is not shown as one
    assert all(r in ("spill", "other") for e in g.edges for r in e.reasons)


def test_split_flow_ignores_arrows_inside_quoted_source():
    assert graph.split_flow('{storage for "a ← b" + s} ← &{storage for "c ← d"}') == (
        '{storage for "a ← b" + s}',
        '&{storage for "c ← d"}',
    )
    assert graph.split_flow("~r0 ← p") == ("~r0", "p")
    assert graph.split_ops("&{storage for x}") == ("&", "{storage for x}")
    assert graph.split_ops("**p") == ("**", "p")


@pytest.mark.usefixtures("needs_dot")
def test_graphviz_reads_exactly_our_nodes_whatever_the_names():
    g = graph.build_graph(hostile_analysis(), "main.f")
    links = graph.Links(PERMALINK, ["main.go"])
    dot = graph.to_dot(g, links)
    out = subprocess.run(["dot", "-Tjson0"], input=dot.encode(), capture_output=True, check=True, timeout=30)
    parsed = json.loads(out.stdout)
    objects = [o["name"] for o in parsed["objects"] if not o["name"].startswith("cluster_")]
    assert sorted(objects) == sorted(n.id for n in g.nodes)
    assert len(parsed.get("edges", [])) == len(g.edges)
    # …and the drawing shows each name as it is, as text
    svg = graph.render_svg(g, links)
    root = ET.fromstring(svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))
    texts = {
        t.text.replace("\xa0", " ") for t in root.iter("{http://www.w3.org/2000/svg}text")
    }  # Graphviz keeps runs of spaces as nbsp
    shown = {graph.shorten("{storage for " + text + " + s}") + f" · L{10 + i}" for i, text in enumerate(HOSTILE)}
    assert shown <= texts
    assert "<script" not in svg and "javascript:" not in svg  # shown as text: &lt;script&gt;
    assert len(root.findall(".//{http://www.w3.org/2000/svg}g[@class]")) >= len(g.nodes)


# -- the SVG sanitizer --------------------------------------------------------------------

SVG_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
    '<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN"\n "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n'
    "<!-- Generated by graphviz -->\n"
)
EVIL_SVG = (
    SVG_HEAD + '<svg width="100pt" height="50pt" viewBox="0.00 0.00 100.00 50.00" xmlns="http://www.w3.org/2000/svg"'
    ' xmlns:xlink="http://www.w3.org/1999/xlink" onload="alert(1)" style="background:url(https://evil.example/x)">'
    '<script>alert("svg")</script>'
    "<style>text { fill: url(https://evil.example) }</style>"
    '<g id="n1" class="node" onclick="alert(2)" style="display:none">'
    "<title>n1</title>"
    '<g id="a_n1"><a xlink:href="/s/aaaaaaaaaaaaaaaa#L8" xlink:title="t" target="_blank">'
    '<ellipse fill="url(javascript:alert(3))" stroke="black" cx="1" cy="2" rx="3" ry="4" onmouseover="alert(4)"/>'
    '<text x="1" y="2" font-family="sans-serif">t &lt;script&gt;</text></a></g>'
    '<a xlink:href="javascript:alert(5)"><text x="1" y="2">js</text></a>'
    '<a href="https://evil.example/"><text x="1" y="2">away</text></a>'
    '<a xlink:href="/s/aaaaaaaaaaaaaaaa#L8x"><text x="1" y="2">near miss</text></a>'
    "</g>"
    '<foreignObject><div xmlns="http://www.w3.org/1999/xhtml"><script>alert(6)</script></div></foreignObject>'
    '<image xlink:href="https://evil.example/i.png"/>'
    '<use xlink:href="#n1"/>'
    '<animate attributeName="href" to="javascript:alert(7)"/>'
    '<set attributeName="onclick" to="alert(8)"/>'
    '<g id="x" transform="translate(1 2) url(x)" class="c&quot;onx"><polygon points="1,2 3,4" fill="#fff"/></g>'
    "<html:script xmlns:html='http://www.w3.org/1999/xhtml'>alert(9)</html:script>"
    "</svg>"
)


def test_the_sanitizer_keeps_the_drawing_and_drops_everything_else():
    svg = graph.sanitize_svg(
        EVIL_SVG, hrefs={"/s/aaaaaaaaaaaaaaaa#L8"}, titles={"n1": "t, line 8"}, label="Escape graph of main.f"
    )
    lowered = svg.lower()
    for gone in (
        "<script",
        "alert",
        "onload",
        "onclick",
        "onmouseover",
        "style",
        "javascript",
        "evil.example",
        "foreignobject",
        "<image",
        "<use",
        "<animate",
        "<set",
        "target",
        "url(",
        "xlink",
    ):
        assert gone not in lowered, gone
    assert '<a href="/s/aaaaaaaaaaaaaaaa#L8" aria-label="t, line 8">' in svg
    assert svg.count("href=") == 1  # the near miss and the foreign links lost theirs
    assert "<title>t, line 8</title>" in svg
    assert "t &lt;script&gt;" in svg  # text stays text
    assert 'id="eg-n1"' in svg and 'id="eg-a_n1"' in svg
    assert '<ellipse stroke="black" cx="1" cy="2" rx="3" ry="4">' in svg
    assert 'role="group" aria-label="Escape graph of main.f"' in svg
    assert "translate(1 2) url(x)" not in svg and "onx" not in svg


@pytest.mark.parametrize(
    "document",
    [
        '<!DOCTYPE svg [<!ENTITY a "aaaa">]><svg xmlns="http://www.w3.org/2000/svg"><text>&a;</text></svg>',
        "<svg xmlns='http://www.w3.org/2000/svg'><text>unclosed</svg>",
        "<html><body>not svg</body></html>",
    ],
)
def test_the_sanitizer_refuses_what_is_not_a_plain_svg(document):
    with pytest.raises(graph.UnsafeSVG):
        graph.sanitize_svg(document, hrefs=set(), titles={}, label="x")


def test_links_are_built_from_line_numbers_of_the_compilations_files_only():
    links = graph.Links(PERMALINK, ["main.go", "util.go"])
    assert links.href("main.go", 9) == f"{PERMALINK}#L9"
    assert links.href("util.go", 3) == f"{PERMALINK}#util.go-L3"
    assert links.href("/etc/passwd", 3) == "" and links.href("main.go", 0) == ""
    with pytest.raises(ValueError):
        graph.Links("javascript:alert(1)//", ["main.go"])


# -- collapsing and the cap ----------------------------------------------------------------


def chain_analysis(chains: int, length: int, function: str = "main.f") -> dict:
    """``chains`` decisions, each a path of ``length`` locations of its own to the heap."""
    diagnostics = []
    for c in range(chains):
        names = [f"v{c}_{i}" for i in range(length)]
        flow = []
        for i in range(length - 1):
            flow.append({"file": "main.go", "line": 3, "column": 2, "message": f"flow: {names[i + 1]} ← {names[i]}:"})
            flow.append(
                {"file": "main.go", "line": 4 + i, "column": 2, "message": f"from x (assign) at main.go:{4 + i}:2"}
            )
        flow.append({"file": "main.go", "line": 3, "column": 2, "message": f"flow: {{heap}} ← {names[-1]}:"})
        flow.append({"file": "main.go", "line": 30, "column": 2, "message": "from sink = x (assign) at main.go:30:2"})
        diagnostics.append(
            {
                "file": "main.go",
                "line": 3,
                "column": 2,
                "kind": "moved-to-heap",
                "message": f"moved to heap: {names[0]}",
                "function": function,
                "details": {"subject": names[0]},
                "flow": [{**s, "depth": 1 if s["message"].startswith("flow") else 2} for s in flow],
            }
        )
    return {"files": [{"name": "main.go", "text": "package main\n" * 40}], "diagnostics": diagnostics, "status": "ok"}


def test_long_chains_are_collapsed_into_one_edge_with_their_count():
    g = graph.build_graph(chain_analysis(1, 8), "main.f")
    links = graph.Links(PERMALINK, ["main.go"])
    assert {n.name for n in g.nodes} == {"v0_0", "{heap}"}
    chain = [e for e in g.edges if e.kind == "chain"]
    assert len(chain) == 1 and chain[0].via == [f"v0_{i}" for i in range(1, 8)]
    assert graph.edge_label(chain[0], links).startswith("via 7 locations · L4, L5, L6")
    assert g.collapsed == 7
    # short chains stay as they are
    assert len(graph.build_graph(chain_analysis(1, 3), "main.f").nodes) == 4


def test_the_drawing_is_capped_with_decisions_first():
    g = graph.build_graph(chain_analysis(150, 2), "main.f")  # 150 decisions, 301 nodes
    assert len(g.nodes) == 301 and len(g.hidden_nodes) == 301 - graph.MAX_NODES
    drawn = g.drawn_nodes
    assert len(drawn) == graph.MAX_NODES
    assert {n.name for n in drawn} >= {"{heap}"} | {f"v{c}_0" for c in range(150)}  # every decision drawn
    assert all(e.src not in g.hidden_nodes and e.dst not in g.hidden_nodes for e in g.drawn_edges)
    model = graph.page_model(g, graph.Links(PERMALINK, ["main.go"]))
    assert model["hidden_nodes"] == 101 and sum(len(s["edges"]) for s in model["sections"]) == len(g.edges)


def forty_functions() -> str:
    """40 functions, each passing a pointer along a chain of 8 locals to a global, all
    inlined into main (one graph), plus main's own 40 variables whose address they take."""
    parts = ["package main\n\nvar sink any\n"]
    for f in range(40):
        body = [f"\tv{f}_1 := p{f}"] + [f"\tv{f}_{i} := v{f}_{i - 1}" for i in range(2, 9)] + [f"\tsink = v{f}_8"]
        parts.append(f"func f{f}(p{f} *int) {{\n" + "\n".join(body) + "\n}\n")
    calls = "\n".join(f"\tx{f} := {f}\n\tf{f}(&x{f})" for f in range(40))
    parts.append(f"func main() {{\n{calls}\n}}\n")
    return "\n".join(parts)


def test_a_forty_function_program_with_long_chains_stays_under_the_cap():
    analysis = compile_source(forty_functions())
    before = graph.build_graph(analysis, "main.main", chain_min=10_000)  # nothing collapsed
    assert len(before.nodes) > graph.MAX_NODES
    g = graph.build_graph(analysis, "main.main")
    assert len(g.decisions) == 40 and g.hidden_nodes == [] and len(g.nodes) <= graph.MAX_NODES
    assert g.collapsed >= 40 * 8
    assert {n.name for n in g.nodes} == {f"x{f}" for f in range(40)} | {"{heap}"}
    one = graph.build_graph(analysis, "main.f7")  # each function's own graph: its leaking parameter
    assert named(one)["p7"].decisions == ["leaking param"] and len(one.nodes) == 2


# -- the page --------------------------------------------------------------------------------


@pytest.fixture
def stored(analysis, db):
    cache.clear()
    comp = Compilation.objects.create(
        id="graphgraphgraph2",
        source=PROGRAM,
        go=NEWEST_GO,
        goarch="amd64",
        lang=analysis["lang"],
        groups=",".join(compiler.DIAGNOSTIC_GROUPS),
        status=Status.DONE,
        finished=timezone.now(),
    )
    comp.analysis = analysis
    comp.save()
    yield comp
    cache.clear()


@pytest.mark.usefixtures("needs_dot")
def test_the_graph_page_shows_the_drawing_the_legend_and_the_list(client, stored):
    response = client.get(f"/s/{stored.id}/graph/main.newT")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'class="escape-graph-svg"' in page
    assert 'href="/static/css/graph.css"' in page
    assert f'href="/s/{stored.id}#L9"' in page and f'href="/s/{stored.id}"' in page  # a line, the way back
    assert "Legend" in page and "The flows, as text" in page
    assert re.search(
        r'edge-src">t</span> → <span class="edge-dst">p</span>: <a href="[^"]+#L9">&amp; address-of, assign · L9</a>',
        page,
    )
    assert "style=" not in page and "<script>" not in page.split("</head>")[1]


@pytest.mark.usefixtures("needs_dot")
def test_the_svg_is_made_once_per_compilation_and_function(client, stored, monkeypatch):
    calls = []
    real = graph.run_dot
    monkeypatch.setattr(graph, "run_dot", lambda dot, **kw: calls.append(1) or real(dot, **kw))
    first = client.get(f"/s/{stored.id}/graph/main.newT").content
    second = client.get(f"/s/{stored.id}/graph/main.newT").content
    assert len(calls) == 1 and first.count(b"escape-graph-svg") == second.count(b"escape-graph-svg") == 1
    client.get(f"/s/{stored.id}/graph/main.leak")
    assert len(calls) == 2


def test_without_graphviz_the_page_says_so_and_lists_the_flows(client, stored, monkeypatch):
    monkeypatch.setattr(graph.shutil, "which", lambda name: None)
    response = client.get(f"/s/{stored.id}/graph/main.newT")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Graphviz (<code>dot</code>) is not installed" in page and "escape-graph-svg" not in page
    assert 'edge-src">q</span> → <span class="edge-dst">~r0</span>' in page
    monkeypatch.undo()
    if HAS_DOT:  # nothing was cached: with dot back, the drawing is there
        assert "escape-graph-svg" in client.get(f"/s/{stored.id}/graph/main.newT").content.decode()


@pytest.mark.parametrize(
    "function",
    ["main.sum", "main.nope", "runtime.mallocgc", "newT", "main.newT%0A", "main.newT:x", "main.counter.func9"],
)
def test_a_function_not_of_the_compilation_or_without_heap_decision_is_a_404(client, stored, function):
    assert client.get(f"/s/{stored.id}/graph/{function}").status_code == 404


def test_graph_pages_of_unknown_or_unfinished_compilations_are_404(client, stored):
    assert client.get("/s/bbbbbbbbbbbbbbbb/graph/main.newT").status_code == 404
    Compilation.objects.filter(pk=stored.pk).update(status=Status.RUNNING)
    assert client.get(f"/s/{stored.id}/graph/main.newT").status_code == 404


def test_the_annotated_view_links_each_heap_decision_with_a_flow_to_its_graph(client, stored):
    page = client.get(f"/s/{stored.id}").content.decode()
    for function in ("main.newT", "main.leak", "main.counter", "main.main"):
        assert f'href="/s/{stored.id}/graph/{function}"' in page, function
    assert f"/s/{stored.id}/graph/main.sum" not in page


@pytest.mark.usefixtures("needs_dot")
def test_dot_runs_with_a_time_and_an_output_limit():
    dot = graph.to_dot(graph.build_graph(chain_analysis(3, 2), "main.f"), graph.Links(PERMALINK, ["main.go"]))
    assert graph.run_dot(dot).lstrip().startswith("<?xml")
    with pytest.raises(graph.GraphvizFailed, match="more than 100 bytes"):
        graph.run_dot(dot, max_bytes=100)
    with pytest.raises(graph.GraphvizFailed, match="ran past"):
        graph.run_dot(dot, timeout=0.000_001)
    with pytest.raises(graph.GraphvizFailed, match="exit"):
        graph.run_dot("digraph { a -> }")


# A generic function's shape type quotes a struct tag: the function's symbol name, which
# names a cluster, a page, a link and a title, holds quotes, backslashes, DOT and HTML.
HOSTILE_PROGRAM = r"""package main

type S struct {
	X int `json:"\"]; evil [label=\"</title><script>alert(1)</script>"`
}

var sink any

func G[T any](v T) *T {
	p := &v
	sink = p
	return p
}

func main() { _ = G(S{}) }
"""


@pytest.mark.usefixtures("needs_dot")
def test_a_function_name_quoting_a_struct_tag_stays_text(client, db):
    cache.clear()
    analysis = compile_source(HOSTILE_PROGRAM)
    shape = next(f for f in graph.graph_functions(analysis) if f.startswith("main.G[go.shape."))
    assert "<script>" in shape and '"' in shape
    comp = Compilation.objects.create(
        id="hostilehostile22",
        source=HOSTILE_PROGRAM,
        go=NEWEST_GO,
        goarch="amd64",
        lang=analysis["lang"],
        groups=",".join(compiler.DIAGNOSTIC_GROUPS),
        status=Status.DONE,
        finished=timezone.now(),
    )
    comp.analysis = analysis
    comp.save()
    permalink = client.get(f"/s/{comp.id}").content.decode()
    hrefs = [html.unescape(h) for h in re.findall(r'class="graph-link where" href="([^"]+)"', permalink)]
    shape_href = next(h for h in hrefs if "go.shape" in h)
    assert "<" not in shape_href and '"' not in shape_href and " " not in shape_href  # percent-encoded
    response = client.get(shape_href)
    assert response.status_code == 200
    page = response.content.decode()
    body = page.split("</head>")[1]
    assert "<script>" not in body and "evil [" not in body.replace("evil [label=", "")  # text only, escaped
    assert "&lt;/title&gt;&lt;script&gt;" in body
    start = body.index("<svg ", body.index('<figure class="escape-graph">'))
    svg = body[start : body.index("</svg>", start) + 6]
    root = ET.fromstring(svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))
    ns = "{http://www.w3.org/2000/svg}"
    assert [e.get("id") for e in root.iter(f"{ns}g") if "node" in (e.get("class") or "").split()] == [
        "eg-n1",
        "eg-n2",
        "eg-n0",
    ]
    assert graph.shorten(shape, 80) in {t.text.replace("\xa0", " ") for t in root.iter(f"{ns}text")}
    assert f"function {shape}" in {t.text for t in root.iter(f"{ns}title")}
    cache.clear()


def test_a_closure_the_assembly_does_not_list_leads_to_its_functions_graph(client, stored):
    analysis = json.loads(json.dumps(stored.analysis))
    moved = next(d for d in analysis["diagnostics"] if d["kind"] == "moved-to-heap" and d["function"] == "main.newT")
    moved["function"] = "main.newT.func7"  # e.g. a closure inlined wherever it was used
    stored.analysis = analysis
    stored.save()
    cache.clear()
    response = client.get(f"/s/{stored.id}/graph/main.newT.func7")
    assert response.status_code == 302 and response["Location"] == f"/s/{stored.id}/graph/main.newT"
    assert client.get(f"/s/{stored.id}/graph/main.newT").status_code == 200
    assert client.get(f"/s/{stored.id}/graph/main.newT.func8").status_code == 404
