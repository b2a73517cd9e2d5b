"""The escape graph of one function: the flows the compiler reported with ``-m=2``, drawn.

golang/go#31489 asks for a picture of the escape graph. The compiler prints, for each
decision, one path of its graph::

    main.go:8:2: t escapes to heap in newT:
    main.go:8:2:   flow: p ← &t:
    main.go:8:2:     from &t (address-of) at main.go:9:7
    main.go:8:2:     from p := &t (assign) at main.go:9:4
    main.go:8:2:   flow: ~r0 ← p:
    main.go:8:2:     from return p (return) at main.go:10:2
    main.go:8:2: moved to heap: t

(``cmd/compile/internal/escape``: ``explainPath`` walks from the location to the root,
so the source of each ``flow:`` is the destination of the one before it, and no
location appears twice in one path.) Here those paths become one graph per function:

- **nodes** are locations, named as the compiler names them: variables, parameters,
  results (``~r0``), ``{storage for …}`` allocations, ``{temp}`` and the heap
  (``{heap}``, one node). A name is one node per function (the compiler prints no more
  than names: two variables of one name in one function, e.g. a shadowed one or the
  parameter of an inlined call, are one node), except ``{temp}`` (one per path) and a
  name met again further along the same path (necessarily another location: the
  parameter ``p`` of an inlined call of itself, ``flow: p ← p``), which gets a node of
  its own;
- **edges** are the ``flow:`` steps, labelled with the reasons of their ``from … (reason)
  at …`` lines and their lines, plus one per decision (moved to heap, escapes to heap,
  leaking param) from its subject to the heap or to the result it leaks to, unless a
  flow already goes there;
- **clusters** are functions: the graph of ``main.f`` holds its own decisions and its
  closures' (``main.f.func1``, ``main.f-range1``), each in its own cluster;
- runs of at least ``CHAIN_MIN`` plain single-in/single-out locations are collapsed into
  one edge labelled with their count (the text list names them); at most ``MAX_NODES``
  nodes are drawn (decisions first), with a note.

The DOT text is ours: node, edge and cluster ids are made up (``n3``, ``e7``,
``cluster_1``), every label is escaped for a quoted DOT string (``dot_quote``), and links
are the permalink page's line anchors, built here from the compilation id and the line
number, never from user text. Graphviz's SVG is then parsed and rebuilt from an allow
list of elements and attributes (``sanitize_svg``): no script, no event handler, no
``style``, no link but the ones we made.
"""

from __future__ import annotations

import html
import os
import re
import selectors
import shutil
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

# Bump when the model, the DOT or the sanitizer change: cached SVGs carry it in their key.
GRAPH_VERSION = "1"
GRAPH_KINDS = ("moved-to-heap", "escapes-to-heap", "leaking-param")
MAX_NODES = 200
CHAIN_MIN = 3  # a run of this many plain locations or more becomes one edge
LABEL_MAX = 48  # characters of a name shown in a node (the text list has it whole)
DOT_TIMEOUT = 10.0  # seconds
DOT_MAX_OUTPUT = 8 << 20  # bytes of SVG
DOT_MAX_MEMORY = 1 << 30  # bytes of address space, when prlimit is there to set it
FONT = "DejaVu Sans,Verdana,Arial,sans-serif"

# A function of the page's path: like worker/ssa.py's FUNCTION_RE (no control character, at
# most 512 characters) but ":" is allowed, which GOSSAFUNC reserves (``main.f:genssa``) and
# a generic's shape type holds when it quotes a struct tag (``json:"x"``). What matters is
# next: the name must be one of the compilation's functions (ssa.functions_of_analysis).
FUNCTION_RE = re.compile(r"^[^\x00-\x1f\x7f]{1,512}$")
_FROM_RE = re.compile(r"^from (?P<where>.*) \((?P<why>[^()]*)\) at (?P<pos>\S+)$")
_REASON_RE = re.compile(r"^[a-z][a-z0-9 -]{0,39}$")
_RESULT_RE = re.compile(r"^~[rR]\d+$")
_ANCHOR_RE = re.compile(r"^(?:[A-Za-z0-9_][A-Za-z0-9_.\-]{0,99}\.go-)?L[1-9][0-9]{0,8}$")
_PERMALINK_RE = re.compile(r"^/s/[a-z2-7]{16}$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")

DECISION_TEXT = {
    "moved-to-heap": "moved to heap",
    "escapes-to-heap": "escapes to heap",
    "leaking-param": "leaking param",
}


# -- the model ----------------------------------------------------------------------------


@dataclass
class Node:
    id: str  # n0, n1, … (made up: never user text)
    name: str  # the compiler's name for the location
    kind: str  # heap | param | result | storage | temp | variable
    cluster: str  # the function it is drawn in; "" for the heap
    file: str = ""
    line: int = 0
    decisions: list[str] = field(default_factory=list)  # "moved to heap", … (this node is their subject)


@dataclass
class Edge:
    id: str  # e0, e1, …
    src: str  # node ids
    dst: str
    kind: str  # flow | decision | chain
    reasons: list[str] = field(default_factory=list)
    positions: list[tuple[str, int]] = field(default_factory=list)  # (file, line) of its steps
    ops: str = ""  # "&": the address flows; "*"…: what it points to flows
    text: str = ""  # a decision edge's words ("moved to heap", "leaks to result ~r0")
    via: list[str] = field(default_factory=list)  # a chain's collapsed locations (names)


@dataclass
class Decision:
    kind: str
    text: str  # "moved to heap", …
    message: str  # the compiler's line
    subject: str
    node: str  # node id of its subject
    function: str
    file: str
    line: int
    column: int
    inlined_from: str = ""
    has_flow: bool = False


@dataclass
class Graph:
    function: str
    clusters: list[str]
    nodes: list[Node]
    edges: list[Edge]
    decisions: list[Decision]
    hidden_nodes: list[str] = field(default_factory=list)  # ids of nodes not drawn (the cap)
    collapsed: int = 0  # locations folded into chain edges

    def node(self, node_id: str) -> Node:
        return self._by_id[node_id]

    def __post_init__(self) -> None:
        self._by_id = {n.id: n for n in self.nodes}

    @property
    def drawn_nodes(self) -> list[Node]:
        hidden = set(self.hidden_nodes)
        return [n for n in self.nodes if n.id not in hidden]

    @property
    def drawn_edges(self) -> list[Edge]:
        hidden = set(self.hidden_nodes)
        return [e for e in self.edges if e.src not in hidden and e.dst not in hidden]


def in_scope(function: str, candidate: str) -> bool:
    """Is ``candidate`` the function itself or one of its closures (``main.f.func1``,
    ``main.f.func1.2``, ``main.f-range1``, a clone ``main.f.func1#…#``)?"""
    if not candidate:
        return False
    if candidate == function:
        return True
    rest = candidate[len(function) :] if candidate.startswith(function) else ""
    return bool(re.match(r"^(?:\.func\d+|-range\d+)(?:[.#\-].*)?$", rest))


def enclosing(function: str) -> str:
    """The function a closure is written in: ``main.f`` for ``main.f.func1.2``."""
    m = re.match(r"^(.+?)(?:\.func\d+|-range\d+)(?:[.#\-].*)?$", function)
    return m.group(1) if m else function


def graph_functions(analysis: dict[str, Any] | None) -> set[str]:
    """Functions of an analysis that have a decision the graph draws."""
    if not analysis:
        return set()
    return {d.get("function", "") for d in analysis.get("diagnostics", []) if d["kind"] in GRAPH_KINDS} - {""}


def split_flow(body: str) -> tuple[str, str]:
    """``dst ← src`` of a ``flow:`` line (without ``flow: `` and the final colon). A
    ``{storage for …}`` name quotes source text, which may hold `` ← `` itself: the
    separator is the first one outside string literals and brackets."""
    depth, quote, i = 0, "", 0
    while i < len(body):
        c = body[i]
        if quote:
            if c == "\\" and quote != "`":
                i += 2
                continue
            if c == quote:
                quote = ""
        elif c in "\"'`":
            quote = c
        elif c in "{([":
            depth += 1
        elif c in "})]":
            depth = max(0, depth - 1)
        elif depth == 0 and body.startswith(" ← ", i):
            return body[:i], body[i + 3 :]
        i += 1
    dst, _, src = body.partition(" ← ")
    return dst, src


def split_ops(src: str) -> tuple[str, str]:
    """(ops, name) of a flow's source: ``&t`` → ("&", "t"), ``**p`` → ("**", "p")."""
    if src.startswith("&") and len(src) > 1:
        return "&", src[1:]
    stripped = src.lstrip("*")
    if stripped and stripped != src:
        return src[: len(src) - len(stripped)], stripped
    return "", src


@dataclass
class _Hop:
    dst: str
    src: str
    ops: str
    reasons: list[str]
    positions: list[tuple[str, int]]


def _hops(flow: list[dict]) -> list[_Hop]:
    """The ``flow:`` steps of one path, each with its ``from`` lines."""
    hops: list[_Hop] = []
    for step in flow:
        message = step.get("message", "")
        if message.startswith("flow: ") and message.endswith(":"):
            dst, src = split_flow(message[len("flow: ") : -1])
            if not dst or not src:
                continue
            ops, src = split_ops(src)
            hops.append(_Hop(dst, src, ops, [], []))
        elif message.startswith("from ") and hops:
            m = _FROM_RE.match(message)
            why = m["why"] if m else ""
            reason = why if _REASON_RE.match(why) else "other"
            if reason not in hops[-1].reasons:
                hops[-1].reasons.append(reason)
            position = (str(step.get("file", "")), int(step.get("line", 0) or 0))
            if position[1] > 0 and position not in hops[-1].positions:
                hops[-1].positions.append(position)
    return hops


class _Builder:
    def __init__(self) -> None:
        self.nodes: dict[tuple, Node] = {}
        self.edges: list[Edge] = []
        self.edge_keys: dict[tuple, Edge] = {}
        self.pairs: set[tuple[str, str]] = set()
        self.temps = 0
        self.heap = self._node(("", "{heap}", 0), "{heap}", "", "", 0)

    def _node(self, key: tuple, name: str, cluster: str, file: str, line: int) -> Node:
        node = self.nodes.get(key)
        if node is None:
            kind = (
                "heap"
                if name == "{heap}"
                else "result"
                if _RESULT_RE.match(name)
                else "temp"
                if name == "{temp}"
                else "storage"
                if name.startswith("{storage for ")
                else "variable"
            )
            node = Node(f"n{len(self.nodes)}", name, kind, cluster, file, line)
            self.nodes[key] = node
        elif not node.line and line:
            node.file, node.line = file, line
        return node

    def location(self, cluster: str, name: str, seen: dict[str, int], position: tuple[str, int]) -> Node:
        """The node of a location met in a path; ``seen`` counts the names met so far in it."""
        if name == "{heap}":
            return self.heap
        if name == "{temp}":
            self.temps += 1
            return self._node((cluster, name, "temp", self.temps), name, cluster, *position)
        occurrence = seen.get(name, 0)
        seen[name] = occurrence + 1
        return self._node((cluster, name, occurrence), name, cluster, *position)

    def edge(self, src: Node, dst: Node, kind: str, **attrs: Any) -> Edge:
        key = (src.id, dst.id, kind, tuple(attrs.get("reasons", ())), attrs.get("ops", ""), attrs.get("text", ""))
        edge = self.edge_keys.get(key)
        if edge is None:
            edge = Edge(f"e{len(self.edges)}", src.id, dst.id, kind, **attrs)
            self.edges.append(edge)
            self.edge_keys[key] = edge
            self.pairs.add((src.id, dst.id))
        else:
            for p in attrs.get("positions", ()):
                if p not in edge.positions:
                    edge.positions.append(p)
        return edge

    def has_edge(self, src: Node, dst: Node) -> bool:
        return (src.id, dst.id) in self.pairs


def _plain(analysis: Any) -> dict[str, Any]:
    return analysis if isinstance(analysis, dict) else analysis.to_dict()


def build_graph(
    analysis: Any, function: str, *, max_nodes: int = MAX_NODES, chain_min: int = CHAIN_MIN
) -> Graph | None:
    """The escape graph of ``function`` (and its closures), or None when none of them
    has a decision the graph draws. ``analysis``: ``Analysis.to_dict()`` (or an Analysis)."""
    data = _plain(analysis) or {}
    diags = [d for d in data.get("diagnostics", []) if in_scope(function, d.get("function", ""))]
    if not any(d["kind"] in GRAPH_KINDS for d in diags):
        return None
    b = _Builder()
    decisions: list[Decision] = []
    clusters: list[str] = []
    for d in diags:
        is_decision = d["kind"] in GRAPH_KINDS
        is_flow = d["kind"] == "escape-flow" and d.get("flow")
        if not (is_decision or is_flow):
            continue
        cluster = d["function"]
        if cluster not in clusters:
            clusters.append(cluster)
        details = d.get("details") or {}
        hops = _hops(d.get("flow") or [])
        seen: dict[str, int] = {}
        root: Node | None = None
        previous: Node | None = None
        for hop in hops:
            if previous is not None and previous.name == hop.src:
                src = previous  # the path goes on from where the last step arrived
            else:
                at = (d["file"], d["line"]) if previous is None else (hop.positions or [("", 0)])[0]
                src = b.location(cluster, hop.src, seen, at)
            root = root or src
            dst = b.location(cluster, hop.dst, seen, (hop.positions or [("", 0)])[-1])
            b.edge(src, dst, "flow", reasons=hop.reasons, positions=list(hop.positions), ops=hop.ops)
            previous = dst
        if root is None:  # no flow (e.g. -m=1): the subject alone
            root = b.location(cluster, details.get("subject") or d["message"], {}, (d["file"], d["line"]))
        if details.get("header") == "leak" or d["kind"] == "leaking-param":
            if root.kind == "variable":
                root.kind = "param"
        if not is_decision:
            continue
        text = DECISION_TEXT[d["kind"]]
        target = b.heap
        to = str(details.get("to", "heap"))
        if d["kind"] == "leaking-param" and to.startswith("result "):
            target = b.location(cluster, to[len("result ") :], {}, ("", 0))
            text = f"leaks to result {to[len('result ') :]}"
            if "level" in details:
                text += f" (level {details['level']})"
        elif d["kind"] == "leaking-param" and details.get("content"):
            text = "leaking param content"
        if text not in root.decisions:
            root.decisions.append(text)
        if not b.has_edge(root, target):
            b.edge(root, target, "decision", text=text, positions=[(d["file"], d["line"])])
        decisions.append(
            Decision(
                kind=d["kind"],
                text=text,
                message=d["message"],
                subject=str(details.get("subject", "")),
                node=root.id,
                function=cluster,
                file=d["file"],
                line=d["line"],
                column=d.get("column", 0),
                inlined_from=d.get("inlined_from", ""),
                has_flow=bool(hops),
            )
        )
    nodes = list(b.nodes.values())
    edges, collapsed_ids = _collapse(nodes, b.edges, chain_min)
    used = {e.src for e in edges} | {e.dst for e in edges} | {d.node for d in decisions}
    nodes = [n for n in nodes if n.id in used]
    graph = Graph(function, clusters, nodes, edges, decisions, collapsed=len(collapsed_ids))
    graph.hidden_nodes = _over_cap(graph, max_nodes)
    return graph


def _collapse(nodes: list[Node], edges: list[Edge], chain_min: int) -> tuple[list[Edge], set[str]]:
    """Fold runs of ``chain_min`` or more plain locations (one edge in, one out, no
    decision of their own) into one ``chain`` edge."""
    by_id = {n.id: n for n in nodes}
    ins: dict[str, list[Edge]] = {n.id: [] for n in nodes}
    outs: dict[str, list[Edge]] = {n.id: [] for n in nodes}
    for e in edges:
        outs[e.src].append(e)
        ins[e.dst].append(e)

    def plain(node_id: str) -> bool:
        n = by_id[node_id]
        return (
            n.kind in ("variable", "storage", "temp")
            and not n.decisions
            and len(ins[node_id]) == 1
            and len(outs[node_id]) == 1
            and ins[node_id][0].src != node_id
        )

    removed_edges: set[str] = set()
    collapsed: set[str] = set()
    chains: list[Edge] = []
    for e in list(edges):
        if plain(e.src) or not plain(e.dst) or e.id in removed_edges:
            continue
        run, path, current = [], [e], e.dst
        while plain(current) and current not in run:
            run.append(current)
            nxt = outs[current][0]
            path.append(nxt)
            current = nxt.dst
        if len(run) < chain_min or current in run:
            continue
        reasons: list[str] = []
        positions: list[tuple[str, int]] = []
        for step in path:
            reasons += [r for r in step.reasons if r not in reasons]
            positions += [p for p in step.positions if p not in positions]
        chains.append(
            Edge(
                f"c{len(chains)}",
                e.src,
                current,
                "chain",
                reasons=reasons,
                positions=positions,
                ops=e.ops,
                via=[by_id[i].name for i in run],
            )
        )
        removed_edges.update(step.id for step in path)
        collapsed.update(run)
    kept = [e for e in edges if e.id not in removed_edges] + chains
    return kept, collapsed


def _over_cap(graph: Graph, max_nodes: int) -> list[str]:
    """Ids of the nodes beyond the cap: the heap, then decisions' subjects, then the
    others in the order the flows met them, are drawn first."""
    if len(graph.nodes) <= max_nodes:
        return []
    ranked = sorted(
        enumerate(graph.nodes), key=lambda p: (p[1].kind != "heap", not p[1].decisions, p[1].kind != "param", p[0])
    )
    return [n.id for _, n in ranked[max_nodes:]]


# -- words and links ----------------------------------------------------------------------


def line_anchor(file_index: int, file: str, line: int) -> str:
    """The permalink page's anchor of a line (as explorer/render.py names them)."""
    return f"L{line}" if file_index == 0 else f"{file}-L{line}"


class Links:
    """Links to the lines of the permalink page ``/s/<id>#L<n>``: built from the
    compilation id and line numbers, only for the compilation's own files."""

    def __init__(self, permalink: str, files: list[str]):
        if not _PERMALINK_RE.match(permalink):
            raise ValueError(f"not a permalink path: {permalink!r}")
        self.permalink = permalink
        self.index = {name: i for i, name in enumerate(files)}
        self.first = files[0] if files else ""

    def href(self, file: str, line: int) -> str:
        index = self.index.get(file)
        if index is None or not isinstance(line, int) or line <= 0:
            return ""
        anchor = line_anchor(index, file, line)
        if not _ANCHOR_RE.match(anchor):
            return ""
        return f"{self.permalink}#{anchor}"

    def line_text(self, file: str, line: int) -> str:
        return f"L{line}" if file == self.first or not file else f"{file}:{line}"


def clean(text: str) -> str:
    """Text without control characters (none is valid in an SVG, none is needed)."""
    return _CONTROL_RE.sub(" ", str(text))


def shorten(text: str, limit: int = LABEL_MAX) -> str:
    text = clean(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def node_label(node: Node, links: Links) -> str:
    name = shorten(node.name)
    return f"{name} · {links.line_text(node.file, node.line)}" if node.line else name


def edge_label(edge: Edge, links: Links) -> str:
    lines = [links.line_text(f, n) for f, n in edge.positions]
    where = ", ".join(lines[:3]) + (", …" if len(lines) > 3 else "")
    if edge.kind == "decision":
        words = edge.text
    elif edge.kind == "chain":
        words = f"via {len(edge.via)} locations"
    else:
        words = ", ".join(edge.reasons) or "flow"
    if edge.ops:
        words = f"{edge.ops} {words}"
    return f"{words} · {where}" if where else words


def edge_href(edge: Edge, links: Links) -> str:
    for file, line in edge.positions:
        href = links.href(file, line)
        if href:
            return href
    return ""


def node_description(node: Node, links: Links) -> str:
    """A node's words for its link and tooltip: ``t, line 8, moved to heap``."""
    parts = [clean(node.name)]
    if node.line:
        parts.append(f"line {node.line}" if node.file == links.first else f"{node.file} line {node.line}")
    parts += node.decisions
    return ", ".join(parts)


def edge_description(edge: Edge, graph: Graph, links: Links) -> str:
    src, dst = graph.node(edge.src), graph.node(edge.dst)
    text = f"{src.name} → {dst.name}: {edge_label(edge, links)}"
    if edge.via:
        text += f" (through {', '.join(edge.via)})"
    return clean(text)


# -- DOT ----------------------------------------------------------------------------------


def dot_quote(text: str) -> str:
    """``text`` as a quoted DOT string shown as it is: no way out of the quotes.

    Backslashes are doubled (so none escapes the closing quote, nor makes a ``\\N`` or
    ``\\l`` of Graphviz's label escapes), quotes escaped, control characters (newlines
    included) become spaces, and ``&`` is written ``&#38;``: Graphviz reads entities in
    labels, so ``&lt;`` would be shown as ``<`` and an unknown ``&x;`` breaks its SVG.
    """
    text = _CONTROL_RE.sub(" ", str(text))
    text = text.replace("\\", "\\\\").replace('"', '\\"').replace("&", "&#38;")
    return f'"{text}"'


class _Raw(str):
    """A DOT value already quoted."""


def _label(text: str) -> _Raw:
    """A label of several lines: each line quoted alone, joined by Graphviz's own ``\\n``."""
    lines = [dot_quote(line)[1:-1] for line in text.split("\n")]
    return _Raw('"' + "\\n".join(lines) + '"')


def _attrs(**attrs: str) -> str:
    out = []
    for key, value in attrs.items():
        if not value:
            continue
        out.append(f"{key.rstrip('_')}={value if isinstance(value, _Raw) else dot_quote(value)}")
    return "[" + ", ".join(out) + "]"


NODE_SHAPES = {
    "heap": ("cylinder", "#fde8e8"),
    "param": ("invhouse", "#fff4d6"),
    "result": ("house", "#e6f0ff"),
    "storage": ("box", "#f3f3f3"),
    "temp": ("box", "#f3f3f3"),
    "variable": ("ellipse", "#ffffff"),
}


def to_dot(graph: Graph, links: Links) -> str:
    """The DOT text of the drawn part of ``graph``."""
    out = [
        "digraph escape {",
        f'  graph [rankdir=LR, bgcolor="transparent", fontname={dot_quote(FONT)}, fontsize=12,'
        ' nodesep=0.3, ranksep=0.45, id="escape-graph"];',
        f'  node [fontname={dot_quote(FONT)}, fontsize=11, style=filled, color="#444444", fontcolor="#1f2328"];',
        f'  edge [fontname={dot_quote(FONT)}, fontsize=9, color="#555555", fontcolor="#333333"];',
    ]
    drawn = graph.drawn_nodes

    def node_line(n: Node, indent: str) -> str:
        shape, fill = NODE_SHAPES[n.kind]
        classes = f"loc loc-{n.kind}" + (" decision" if n.decisions else "")
        href = links.href(n.file, n.line)
        return (
            indent
            + n.id
            + " "
            + _attrs(
                id=n.id,
                label=_label(node_label(n, links)),
                shape=shape,
                fillcolor=fill,
                color="#b21d28" if n.decisions else "",
                penwidth="2" if n.decisions else "",
                class_=classes,
                URL=href,
            )
            + ";"
        )

    for i, cluster in enumerate(graph.clusters):
        members = [n for n in drawn if n.cluster == cluster]
        if not members:
            continue
        out.append(f"  subgraph cluster_{i} {{")
        out.append(
            "    graph "
            + _attrs(
                id=f"cluster_{i}",
                label=_label(shorten(cluster, 80)),
                class_="fn",
                style="rounded",
                color="#8c959f",
                fontcolor="#1f2328",
            )
            + ";"
        )
        out += [node_line(n, "    ") for n in members]
        out.append("  }")
    out += [node_line(n, "  ") for n in drawn if not n.cluster]
    for e in graph.drawn_edges:
        href = edge_href(e, links)
        out.append(
            f"  {e.src} -> {e.dst} "
            + _attrs(
                id=e.id,
                label=_label(edge_label(e, links)),
                class_=f"flow-{e.kind}",
                style="dashed" if e.kind == "decision" else "bold" if e.kind == "chain" else "",
                color="#b21d28" if e.kind == "decision" else "",
                URL=href,
            )
            + ";"
        )
    out.append("}")
    return "\n".join(out) + "\n"


# -- Graphviz -----------------------------------------------------------------------------


class GraphvizUnavailable(RuntimeError):
    """``dot`` is not installed (Debian's ``graphviz``)."""


class GraphvizFailed(RuntimeError):
    """``dot`` failed, ran past its time or wrote too much."""


def dot_command() -> list[str]:
    exe = shutil.which("dot")
    if not exe:
        raise GraphvizUnavailable("Graphviz (dot) is not installed on this server.")
    command = [exe, "-Tsvg"]
    prlimit = shutil.which("prlimit")
    if prlimit:
        command = [prlimit, f"--as={DOT_MAX_MEMORY}", f"--cpu={int(DOT_TIMEOUT) + 1}", "--", *command]
    return command


def run_dot(dot: str, *, timeout: float = DOT_TIMEOUT, max_bytes: int = DOT_MAX_OUTPUT) -> str:
    """``dot -Tsvg`` of ``dot``: stopped after ``timeout`` seconds or ``max_bytes`` of output."""
    command = dot_command()
    with tempfile.TemporaryFile() as stdin, tempfile.TemporaryFile() as stderr:
        stdin.write(dot.encode("utf-8"))
        stdin.seek(0)
        proc = subprocess.Popen(
            command,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=stderr,
            cwd="/",
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8"},
            start_new_session=True,
        )
        chunks: list[bytes] = []
        size = 0
        deadline = time.monotonic() + timeout
        problem = ""
        assert proc.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    problem = f"Graphviz ran past {timeout:g} s"
                    break
                if not selector.select(left):
                    continue
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                size += len(chunk)
                if size > max_bytes:
                    problem = f"Graphviz wrote more than {max_bytes} bytes"
                    break
                chunks.append(chunk)
        if problem:
            proc.kill()
        proc.stdout.close()
        try:
            code = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        if problem:
            raise GraphvizFailed(problem)
        if code != 0:
            stderr.seek(0)
            message = stderr.read(2000).decode("utf-8", "replace").strip()
            raise GraphvizFailed(f"Graphviz failed (exit {code}): {message}")
    return b"".join(chunks).decode("utf-8", "replace")


# -- the SVG, sanitized -------------------------------------------------------------------


class UnsafeSVG(ValueError):
    """The SVG could not be read as the plain drawing we expect."""


SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
_NUMBER = r"-?[0-9]*\.?[0-9]+(?:e-?[0-9]+)?"
_GEOMETRY = re.compile(r"^[-0-9.,eE MCLZHVQSTAmclzhvqsta]{0,200000}$")
_TRANSFORM = re.compile(r"^(?:\s*(?:scale|rotate|translate|matrix)\([-0-9.eE, ]{0,100}\))*\s*$")
_COLOR = re.compile(r"^(?:none|transparent|currentColor|#[0-9a-fA-F]{3,8}|[a-z]{3,20})$")
_LENGTH = re.compile(rf"^{_NUMBER}(?:pt|px)?$")
_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
_CLASS = re.compile(r"^[A-Za-z0-9 _-]{0,200}$")
_FONT = re.compile(r"^[A-Za-z0-9 ,-]{0,100}$")
_VALUES = {
    "id": _ID,
    "class": _CLASS,
    "transform": _TRANSFORM,
    "fill": _COLOR,
    "stroke": _COLOR,
    "stroke-width": _LENGTH,
    "stroke-dasharray": re.compile(r"^[0-9., ]{0,50}$"),
    "stroke-opacity": re.compile(rf"^{_NUMBER}$"),
    "fill-opacity": re.compile(rf"^{_NUMBER}$"),
    "font-family": _FONT,
    "font-size": _LENGTH,
    "font-weight": re.compile(r"^(?:normal|bold|[1-9]00)$"),
    "font-style": re.compile(r"^(?:normal|italic|oblique)$"),
    "text-anchor": re.compile(r"^(?:start|middle|end)$"),
    "points": _GEOMETRY,
    "d": _GEOMETRY,
    "viewBox": re.compile(rf"^{_NUMBER}(?: {_NUMBER}){{3}}$"),
    **{k: _LENGTH for k in ("cx", "cy", "rx", "ry", "r", "x", "y", "x1", "y1", "x2", "y2", "width", "height")},
}
# element -> the attributes it may keep (besides the ones checked by value above)
_ELEMENTS = {
    "svg": {"width", "height", "viewBox"},
    "g": {"id", "class", "transform"},  # ids and classes on groups only
    "title": set(),
    "a": set(),  # href and its words are set from our own list, see below
    "polygon": {"fill", "stroke", "stroke-width", "stroke-dasharray", "points", "fill-opacity", "stroke-opacity"},
    "polyline": {"fill", "stroke", "stroke-width", "stroke-dasharray", "points"},
    "path": {"fill", "stroke", "stroke-width", "stroke-dasharray", "d", "fill-opacity", "stroke-opacity"},
    "ellipse": {"fill", "stroke", "stroke-width", "stroke-dasharray", "cx", "cy", "rx", "ry"},
    "circle": {"fill", "stroke", "stroke-width", "cx", "cy", "r"},
    "rect": {"fill", "stroke", "stroke-width", "x", "y", "width", "height", "rx", "ry"},
    "line": {"stroke", "stroke-width", "x1", "y1", "x2", "y2"},
    "text": {"x", "y", "text-anchor", "font-family", "font-size", "font-weight", "font-style", "fill"},
}
ID_PREFIX = "eg-"  # the SVG's ids never collide with the page's (L12, fn-main.f, …)


def _local(name: str) -> tuple[str, str]:
    if name.startswith("{"):
        ns, _, local = name[1:].partition("}")
        return ns, local
    return "", name


def sanitize_svg(
    svg: str,
    *,
    hrefs: set[str],
    titles: dict[str, str],
    label: str,
    names: dict[str, str] | None = None,
    max_elements: int = 50_000,
) -> str:
    """Graphviz's SVG rebuilt from what we expect of it.

    Kept: the drawing elements of ``_ELEMENTS`` with their geometry and presentation
    attributes, each value checked against a strict pattern (no ``url(…)``, no
    ``javascript:``); text as text. Dropped: everything else, whole — ``<script>``,
    ``<foreignObject>``, ``<image>``, ``<use>``, ``<style>``, ``on*`` handlers, ``style``,
    processing instructions, comments. A link keeps its target only when it is one of
    ``hrefs`` (ours: permalink line anchors). ``titles`` holds the words of our node, edge
    and cluster ids: they replace the ``<title>`` of the group of that id (Graphviz puts the
    DOT id there); other titles are dropped. ``names`` (else ``titles``) are the words of
    the links in those groups (``aria-label``). Ids get the prefix ``eg-``.
    """
    names = titles if names is None else names
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", svg)
    text = re.sub(r"<!DOCTYPE[^>\[]*>", "", text, count=1)
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise UnsafeSVG("a document type declaration")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise UnsafeSVG(f"not XML: {exc}") from exc
    if _local(root.tag) != (SVG_NS, "svg"):
        raise UnsafeSVG("not an SVG document")
    count = 0
    out: list[str] = []

    def esc(text: str, quote: bool = False) -> str:
        return html.escape(clean(text), quote=quote)

    def emit(el: ET.Element, named: str) -> None:
        """``named``: the id of the nearest enclosing group that is one of ours."""
        nonlocal count
        count += 1
        if count > max_elements:
            raise UnsafeSVG("too many elements")
        ns, tag = _local(el.tag)
        if ns != SVG_NS or tag not in _ELEMENTS:
            return  # dropped with everything inside it
        if tag == "title":
            if named in titles and named not in seen_titles:
                seen_titles.add(named)
                out.append(f"<title>{esc(titles[named])}</title>")
            return
        attrs: list[tuple[str, str]] = []
        for name, value in el.attrib.items():
            ans, aname = _local(name)
            if ans or aname not in _ELEMENTS[tag]:
                continue
            pattern = _VALUES.get(aname)
            if pattern is None or not pattern.match(value):
                continue
            if aname == "id":
                if value in titles:
                    named = value
                value = ID_PREFIX + value
            attrs.append((aname, value))
        if tag == "svg":
            attrs += [("role", "group"), ("aria-label", label), ("class", "escape-graph-svg")]
        if tag == "a":
            href = el.attrib.get(f"{{{XLINK_NS}}}href", el.attrib.get("href", ""))
            if href in hrefs:
                attrs.append(("href", href))
                if named in names:
                    attrs.append(("aria-label", names[named]))
        out.append(f"<{tag}" + "".join(f' {k}="{esc(v, quote=True)}"' for k, v in attrs) + ">")
        if tag == "text" and el.text:
            out.append(esc(el.text))
        for child in el:
            emit(child, named)
        out.append(f"</{tag}>\n" if tag in ("g", "svg") else f"</{tag}>")

    seen_titles: set[str] = set()
    emit(root, "")
    return "".join(out)


def render_svg(graph: Graph, links: Links, **dot_options: Any) -> str:
    """The sanitized SVG of ``graph``: DOT, ``dot -Tsvg``, then ``sanitize_svg``."""
    svg = run_dot(to_dot(graph, links), **dot_options)
    return sanitize_svg(
        svg,
        hrefs=svg_links(graph, links),
        titles=svg_titles(graph, links),
        names=svg_link_names(graph, links),
        label=svg_label(graph),
    )


def svg_label(graph: Graph) -> str:
    return f"Escape graph of {graph.function}"


def svg_links(graph: Graph, links: Links) -> set[str]:
    """Every link the drawing may hold: the lines of its nodes and edges."""
    out = {links.href(n.file, n.line) for n in graph.drawn_nodes}
    out |= {edge_href(e, links) for e in graph.drawn_edges}
    return out - {""}


def svg_link_names(graph: Graph, links: Links) -> dict[str, str]:
    """The words of the links: what a node shows first (its name and line, as drawn:
    a link's name holds its visible text), then its decisions."""
    names = {n.id: ", ".join([node_label(n, links)] + n.decisions) for n in graph.drawn_nodes}
    names.update({e.id: edge_description(e, graph, links) for e in graph.drawn_edges})
    return names


def svg_titles(graph: Graph, links: Links) -> dict[str, str]:
    titles = {n.id: node_description(n, links) for n in graph.drawn_nodes}
    titles.update({e.id: edge_description(e, graph, links) for e in graph.drawn_edges})
    titles.update({f"cluster_{i}": f"function {c}" for i, c in enumerate(graph.clusters)})
    return titles


# -- the page -----------------------------------------------------------------------------


def page_model(graph: Graph, links: Links) -> dict[str, Any]:
    """What templates/graph.html shows beside the drawing: plain data (cached with it)."""
    sections = []
    for cluster in graph.clusters + [""]:
        rows = []
        for e in graph.edges:
            src, dst = graph.node(e.src), graph.node(e.dst)
            home = src.cluster if src.cluster else dst.cluster
            if home != cluster:
                continue
            rows.append(
                {
                    "src": clean(src.name),
                    "dst": clean(dst.name),
                    "kind": e.kind,
                    "words": edge_label(e, links),
                    "via": [clean(v) for v in e.via],
                    "href": edge_href(e, links),
                    "drawn": e.src not in graph.hidden_nodes and e.dst not in graph.hidden_nodes,
                }
            )
        if rows:
            sections.append({"function": cluster, "edges": rows})
    decisions = [
        {
            "text": d.text,
            "message": clean(d.message),
            "function": d.function,
            "inlined_from": d.inlined_from,
            "line_text": links.line_text(d.file, d.line),
            "href": links.href(d.file, d.line),
            "has_flow": d.has_flow,
        }
        for d in graph.decisions
    ]
    return {
        "function": graph.function,
        "clusters": graph.clusters,
        "sections": sections,
        "decisions": decisions,
        "node_count": len(graph.nodes),
        "edge_count": len(graph.edges),
        "drawn_nodes": len(graph.drawn_nodes),
        "hidden_nodes": len(graph.hidden_nodes),
        "collapsed": graph.collapsed,
        "max_nodes": MAX_NODES,
    }
