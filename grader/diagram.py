"""Diagrams the lessons draw, as SVG made by Graphviz when the cell runs: no network, no JavaScript.

    d = Diagram("request path", direction="TB")
    d.node("src", "pods-demo/client\\n10.244.1.2")
    d.node("svc", "Service web", shape="round", fill=GREEN)
    d.edge("src", "svc")
    d                      # in a notebook: the SVG; in a terminal: an indented outline

Graphviz comes from pygraphviz, whose wheels bundle it (the `lab` and `test` extras install it).
JupyterLab, VS Code, nbviewer and `jupyter nbconvert --to html` all show the SVG as an image, so a
diagram looks the same everywhere and needs nothing at display time. Without pygraphviz a diagram
shows its text outline and says how to get the drawing.

Readability: text is 12 pt (11 pt on arrows), which is 16 px at the SVG's own size; `readable_scale`
says how far a viewer may shrink a drawing before its smallest text falls below 11 px, and the tests
hold every lesson diagram to it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

GREEN = "#c8f7c5"  # allowed, answered
RED = "#f7c5c5"  # the step that failed
GREY = "#eeeeee"
SERVICE = "#dde8fb"
POLICY = "#fff1c9"
INGRESS = "#ecdff7"

FONT = "Helvetica,Arial,sans-serif"
NODE_PT = 12
EDGE_PT = 11
MIN_TEXT_PX = 11
# The width a notebook's output area usually has (JupyterLab with its file browser open on a laptop;
# nbconvert's HTML page): a drawing narrower than this is shown at its own size.
OUTPUT_WIDTH_PX = 720
INSTALL_HINT = "python -m pip install -e '.[lab]'  (pygraphviz draws the diagrams)"

_SHAPES = {  # our names -> Graphviz shape and style
    "box": ("box", "rounded,filled"),
    "round": ("box", "rounded,filled,bold"),  # a Service: a rounded box with a heavier border
    "hex": ("hexagon", "filled"),
    "para": ("parallelogram", "filled"),
    "square": ("box", "filled"),  # square corners: a parallelogram's slant widens a left-to-right drawing
    "ellipse": ("ellipse", "filled"),
}


@dataclass
class _Node:
    id: str
    label: str
    shape: str
    fill: str
    bold: bool


@dataclass
class _Edge:
    src: str
    dst: str
    label: str
    dashed: bool


@dataclass
class Diagram:
    """A small directed graph: boxes, arrows, and frames (e.g. one per namespace) around boxes.

    `direction`: "TB" (top to bottom: chains stay narrow however long they are) or "LR".
    `kind` names the diagram in the SVG (class "netcourse_diagram <kind>"; Graphviz would escape a hyphen), which tests look for.
    """

    kind: str
    direction: str = "TB"
    nodes: dict[str, _Node] = field(default_factory=dict)
    edges: list[_Edge] = field(default_factory=list)
    frames: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    _svg: str | None = field(default=None, repr=False, compare=False)

    def node(self, node_id: str, label: str, *, shape: str = "box", fill: str = "#ffffff", frame: str | None = None, bold: bool = False) -> str:
        """Add a box; "\\n" in `label` breaks the line. Returns the id."""
        if shape not in _SHAPES:
            raise ValueError(f"shape {shape!r}: use one of {', '.join(_SHAPES)}")
        self.nodes[node_id] = _Node(node_id, label, shape, fill, bold)
        if frame is not None:
            self.frames[frame][1].append(node_id)
        self._svg = None
        return node_id

    def frame(self, frame_id: str, label: str) -> str:
        """A labelled frame that later nodes can be put in (node(..., frame=frame_id))."""
        self.frames.setdefault(frame_id, (label, []))
        return frame_id

    def edge(self, src: str, dst: str, label: str = "", *, dashed: bool = False) -> None:
        self.edges.append(_Edge(src, dst, label, dashed))
        self._svg = None

    def restyle(self, node_id: str, *, fill: str | None = None, bold: bool | None = None) -> None:
        n = self.nodes[node_id]
        if fill is not None:
            n.fill = fill
        if bold is not None:
            n.bold = bold
        self._svg = None

    # ------------------------------------------------------------------------------ renderings

    def graph(self) -> Any:
        """The pygraphviz AGraph of this diagram (ImportError when pygraphviz is not installed)."""
        import pygraphviz

        g = pygraphviz.AGraph(directed=True, strict=False, name=f"k8s-netcourse {self.kind}")
        g.graph_attr.update(
            rankdir=self.direction, fontname=FONT, fontsize=str(NODE_PT), nodesep="0.25", ranksep="0.3",
            bgcolor="white", pad="0.1", newrank="true", **{"class": f"netcourse_diagram {self.kind}"},
        )
        g.node_attr.update(fontname=FONT, fontsize=str(NODE_PT), margin="0.12,0.06", penwidth="1", color="#333333")
        g.edge_attr.update(fontname=FONT, fontsize=str(EDGE_PT), color="#333333", arrowsize="0.7")
        home = {}  # node id -> the frame subgraph it is drawn in (a node added there is in the graph too)
        for i, (label, members) in enumerate(self.frames.values()):
            if members:
                # an empty subgraph filled node by node: add_subgraph(nbunch) would walk every edge
                frame = g.add_subgraph(name=f"cluster_{i}", label=_escape(label), style="rounded,dashed",
                                       color="#888888", fontsize=str(NODE_PT), labeljust="l", **{"class": "frame"})
                home.update((m, frame) for m in members)
        for n in self.nodes.values():
            shape, style = _SHAPES[n.shape]
            home.get(n.id, g).add_node(n.id, label=_escape(n.label), shape=shape, style=style, fillcolor=n.fill,
                                       penwidth="2.5" if n.bold else ("1.6" if n.shape == "round" else "1"))
        for e in self.edges:
            attrs = {"label": f" {_escape(e.label)} "} if e.label else {}
            if e.dashed:
                attrs.update(style="dashed", color="#777777")
            g.add_edge(e.src, e.dst, **attrs)
        return g

    def dot(self) -> str:
        """The Graphviz source (what `dot -Tsvg` would draw)."""
        return self.graph().string()

    def svg(self) -> str | None:
        """The drawing as SVG text, or None when pygraphviz is not installed. When the chosen direction
        comes out so wide that a viewer would shrink its text below MIN_TEXT_PX (text widths depend on
        the fonts of the machine that draws it), the other direction is tried and the more readable
        drawing kept."""
        if self._svg is None:
            try:
                graph = self.graph()
            except ImportError:
                return None
            svg = render_svg(graph)
            if smallest_text_px(svg) < MIN_TEXT_PX:
                graph.graph_attr["rankdir"] = "LR" if self.direction == "TB" else "TB"
                other = render_svg(graph)
                if smallest_text_px(other) > smallest_text_px(svg):
                    svg = other
            self._svg = svg
        return self._svg

    def text(self) -> str:
        """An outline for terminals: frames with their boxes, then the arrows."""
        def one_line(label: str) -> str:
            return " | ".join(part for part in label.split("\n") if part)

        lines = [f"{self.kind}:"]
        framed = set()
        for label, members in self.frames.values():
            if members:
                lines.append(f"  [{label}]")
                lines += [f"    {one_line(self.nodes[m].label)}" for m in members]
                framed.update(members)
        lines += [f"  {one_line(n.label)}" for n in self.nodes.values() if n.id not in framed]
        for e in self.edges:
            arrow = f" --{e.label}--> " if e.label else " --> "
            lines.append(f"  {one_line(self.nodes[e.src].label).split(' | ')[0]}{arrow}{one_line(self.nodes[e.dst].label).split(' | ')[0]}")
        return "\n".join(lines)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        svg = self.svg()
        if svg is None:
            return {"text/plain": f"{self.text()}\n(to see this as a drawing: {INSTALL_HINT})"}
        return {"image/svg+xml": svg, "text/plain": self.text()}

    def __str__(self) -> str:
        return self.text()


def _escape(text: str) -> str:
    """Plain text as a Graphviz label: backslashes kept literal, newlines as centred line breaks."""
    return text.replace("\\", "\\\\").replace("\n", "\\n")


_quiet = False


def render_svg(graph: Any) -> str:
    """Lay out a pygraphviz graph with dot and return the SVG text."""
    global _quiet
    if not _quiet:
        _silence_fontconfig_once()
        _quiet = True
    return graph.draw(format="svg", prog="dot").decode("utf-8")


def _silence_fontconfig_once() -> None:
    """The fontconfig inside pygraphviz's wheel can be older than the system's font configuration and
    then prints an "unknown element" warning when it first loads, which a notebook would show under
    the first diagram. Load it once with stderr sent to /dev/null; later drawings keep stderr, so a
    real Graphviz warning still shows."""
    import pygraphviz

    probe = pygraphviz.AGraph()
    probe.add_node("x", label="x")
    try:
        saved = os.dup(2)
    except OSError:  # no stderr file descriptor (some embedded interpreters)
        probe.draw(format="svg", prog="dot")
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            probe.draw(format="svg", prog="dot")
    finally:
        os.dup2(saved, 2)
        os.close(saved)


_SIZE = re.compile(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"')
_FONT = re.compile(r'font-size="([\d.]+)"')


def svg_size_px(svg: str) -> tuple[float, float]:
    """(width, height) in CSS pixels of a Graphviz SVG (its width and height are given in pt)."""
    m = _SIZE.search(svg)
    if not m:
        raise ValueError("not a Graphviz SVG: no width/height in pt")
    return float(m.group(1)) * 4 / 3, float(m.group(2)) * 4 / 3


def smallest_text_px(svg: str, output_width_px: float = OUTPUT_WIDTH_PX) -> float:
    """The smallest text of a Graphviz SVG in CSS pixels once a viewer fits it to `output_width_px`
    (viewers shrink a wider drawing to the width they have, and never enlarge one)."""
    sizes = [float(s) for s in _FONT.findall(svg)]
    if not sizes:
        raise ValueError("the SVG has no text")
    width, _ = svg_size_px(svg)
    scale = min(1.0, output_width_px / width)
    return min(sizes) * 4 / 3 * scale
