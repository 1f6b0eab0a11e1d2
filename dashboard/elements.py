"""API JSON → cytoscape elements: the trace flow and lineage pictures, with large fan-outs grouped.

Pure functions, no Dash: what the browser draws is decided here and unit tested on its own.

Element ids carry a prefix so that no user key can collide with a drawn helper node:
``n:<key>`` a graph node, ``t:<key>`` the trace root, ``x:<key>`` the drop marker after a dropped
node (the seed picture's "File1 -> drop"), ``m:<parent id>`` the "+N more" node of a grouped fan-out,
``e:<n>`` an edge, ``g:<trace key>`` the box around one trace's nodes in a lineage picture.

A trace's drops are the nodes its own events dropped (`dropped_here` in GET /traces/{key}/graph): a
node another trace dropped keeps its status colour but gets no drop marker and does not count here.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dashboard.styles import TRACE_TINTS

FANOUT_LIMIT = 50
EXPAND_ALL = "*"  # in an expanded set: no fan-out is grouped

STATUSES = ("received", "stored", "converted", "written", "dropped", "expired", "deleted")


def node_id(key: str) -> str:
    return f"n:{key}"


def trace_id(key: str) -> str:
    return f"t:{key}"


def drop_id(key: str) -> str:
    return f"x:{key}"


def more_id(parent: str) -> str:
    return f"m:{parent}"


def group_id(trace: str) -> str:
    return f"g:{trace}"


def dropped_here(node: Mapping[str, Any]) -> bool:
    """Whether the picture's own trace dropped this node; answers without `dropped_here` (lineage, an
    older API) go by the status."""
    if "dropped_here" in node:
        return bool(node["dropped_here"])
    return node.get("status") == "dropped"


def _natural(text: str) -> list[Any]:
    """Sort key that puts file2 before file10."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def _child_order(node: Mapping[str, Any] | None, key: str) -> tuple[int, list[Any]]:
    # Dropped children come first so that a grouped fan-out never hides a drop.
    dropped = node is not None and dropped_here(node)
    return (0 if dropped else 1, _natural(key))


@dataclass
class View:
    """Elements for one cytoscape picture and what was left out of it."""

    elements: list[dict[str, Any]]
    total: int  # graph nodes in the input
    shown: int  # graph nodes drawn
    groups: list[str] = field(default_factory=list)  # parents whose fan-out is grouped into "+N more"
    focus: list[str] = field(default_factory=list)  # where to look first when it does not fit readably
    hidden_in: dict[str, str] = field(default_factory=dict)  # node id left out → the parent grouping it

    @property
    def hidden(self) -> int:
        return self.total - self.shown

    def nodes(self) -> list[dict[str, Any]]:
        return [e for e in self.elements if "source" not in e["data"]]

    def edges(self) -> list[dict[str, Any]]:
        return [e for e in self.elements if "source" in e["data"]]


def node_label(node: Mapping[str, Any]) -> str:
    key = str(node["key"])
    name = node.get("name")
    return f"{key}\n{name}" if name and name != key else key


def drop_text(node: Mapping[str, Any]) -> str:
    """The drop reason as shown to people: reason, else code, else 'no reason given'. In a trace's
    picture the reason is the one this trace's drop event gave (`drop_reason`)."""
    reason, code = node.get("drop_reason") or node.get("reason"), node.get("code")
    if reason and code:
        return f"{reason} [{code}]"
    return str(reason or code or "no reason given")


def _graph_node(node: Mapping[str, Any], *, root: bool = False) -> dict[str, Any]:
    kind = str(node.get("kind") or "data")
    status = node.get("status") or "unknown"
    ours = dropped_here(node)
    elsewhere = status == "dropped" and not ours
    data = {
        "id": node_id(str(node["key"])),
        "key": node["key"],
        "kind": kind,
        "status": status,
        "label": node_label(node) + ("\n(dropped by another trace)" if elsewhere else ""),
        "name": node.get("name"),
        "reason": node.get("reason"),
        "code": node.get("code"),
        "dropped_here": ours,
        "drop_reason": node.get("drop_reason") if "dropped_here" in node else node.get("reason"),
        "trace": node.get("trace"),
    }
    classes = [kind, status] + (["dropped-here"] if ours else []) + (["elsewhere"] if elsewhere else [])
    classes += ["root"] if root else []
    return {"data": data, "classes": " ".join(classes)}


def _drop_marker(node: Mapping[str, Any]) -> list[dict[str, Any]]:
    key = str(node["key"])
    marker = {
        "data": {
            "id": drop_id(key),
            "key": key,
            "kind": "drop",
            "status": "dropped",
            "label": f"drop\n{drop_text(node)}",
            "reason": node.get("drop_reason") or node.get("reason"),
            "code": node.get("code"),
        },
        "classes": "drop",
    }
    edge = {
        "data": {"id": f"e:{drop_id(key)}", "source": node_id(key), "target": drop_id(key), "op": ""},
        "classes": "drop-edge",
    }
    return [marker, edge]


def _external_node(key: str) -> dict[str, Any]:
    return {
        "data": {
            "id": node_id(key),
            "key": key,
            "kind": "external",
            "status": "unknown",
            "label": f"{key}\n(other trace)",
        },
        "classes": "external",
    }


def collapse(
    nodes: Iterable[Mapping[str, Any]],
    edges: Iterable[Mapping[str, Any]],
    roots: list[str],
    *,
    expanded: Collection[str] = (),
    limit: int = FANOUT_LIMIT,
    extra_children: Mapping[str, list[str]] | None = None,
    root_marks: Collection[str] = (),
) -> View:
    """Walk from `roots` along edges; a parent with more than `limit` children shows the first `limit`
    (drops first, then by key) and one "+N more" node for the rest, unless its id is in `expanded`
    (or `expanded` holds EXPAND_ALL). Nodes reachable only through grouped children are left out.
    Nodes that no root reaches (cycles) are drawn anyway, as extra roots.

    Ids in `roots`, `expanded`, `extra_children` are element ids (node_id(key), or a helper id such as
    the trace root's); `extra_children` adds helper-parent → child edges without an op."""
    by_key = {str(n["key"]): n for n in nodes}
    known_ids = {node_id(k) for k in by_key}
    children: dict[str, list[tuple[str, str]]] = {}  # parent id -> [(child id, op)]
    externals: set[str] = set()
    for parent, kids in (extra_children or {}).items():
        children.setdefault(parent, []).extend((kid, "") for kid in kids)
    seen_edges: set[tuple[str, str, str]] = set()
    for e in edges:
        s, t, op = node_id(str(e["source"])), node_id(str(e["target"])), str(e.get("op") or "")
        if (s, t, op) in seen_edges:
            continue
        seen_edges.add((s, t, op))
        for end in (s, t):
            if end not in known_ids:
                externals.add(end)
        children.setdefault(s, []).append((t, op))

    def order(item: tuple[str, str]) -> tuple[int, list[Any]]:
        key = item[0][2:]
        return _child_order(by_key.get(key), key)

    expand_all = EXPAND_ALL in expanded
    visible: list[str] = []
    visible_set: set[str] = set()
    out_edges: list[tuple[str, str, str]] = []
    grouped: list[tuple[str, list[str]]] = []  # (parent, children left out)
    hidden_edges: list[tuple[str, str, str]] = []

    def walk(start: list[str]) -> None:
        queue = [r for r in start if r not in visible_set]
        for r in queue:
            visible_set.add(r)
        visible.extend(queue)
        i = 0
        while i < len(queue):
            parent = queue[i]
            i += 1
            kids = sorted(children.get(parent, []), key=order)
            distinct = list(dict.fromkeys(k for k, _ in kids))
            if len(distinct) > limit and not expand_all and parent not in expanded:
                keep = set(distinct[:limit])
                grouped.append((parent, distinct[limit:]))
            else:
                keep = set(distinct)
            for kid, op in kids:
                if kid not in keep:
                    hidden_edges.append((parent, kid, op))
                    continue
                out_edges.append((parent, kid, op))
                if kid not in visible_set:
                    visible_set.add(kid)
                    visible.append(kid)
                    queue.append(kid)

    walk(roots)
    # Cycles and islands with no root: draw them from their first node (in key order), minus
    # what the grouped fan-outs hid on purpose.
    hidden_below = _reachable([k for _, k, _ in hidden_edges], children) - visible_set
    for key in sorted(by_key, key=_natural):
        nid = node_id(key)
        if nid not in visible_set and nid not in hidden_below:
            walk([nid])
    # A hidden child may still be reached through a visible parent elsewhere: then its edge is drawn.
    drawn = set(out_edges)
    out_edges += [(s, t, op) for s, t, op in hidden_edges if t in visible_set and (s, t, op) not in drawn]
    more_nodes: list[dict[str, Any]] = []
    for parent, rest in grouped:
        left_out = [k for k in rest if k not in visible_set]
        if left_out:
            statuses = Counter((by_key.get(k[2:]) or {}).get("status") or "unknown" for k in left_out)
            more_nodes.append(_more_node(parent, left_out, statuses))

    elements: list[dict[str, Any]] = []
    shown = 0
    for nid in visible:
        key = nid[2:]
        if nid.startswith("n:") and key in by_key:
            node = by_key[key]
            elements.append(_graph_node(node, root=nid in root_marks))
            shown += 1
            if dropped_here(node):
                elements += _drop_marker(node)
        elif nid in externals:
            elements.append(_external_node(key))
    # Helper nodes (the trace root) are added by the caller.
    elements += more_nodes
    for n, (s, t, op) in enumerate(out_edges):
        elements.append(
            {"data": {"id": f"e:{n}", "source": s, "target": t, "op": op}, "classes": "flow" if op else "contains"}
        )
    for m in more_nodes:
        parent = m["data"]["group_of"]
        elements.append(
            {
                "data": {"id": f"e:{m['data']['id']}", "source": parent, "target": m["data"]["id"], "op": ""},
                "classes": "more-edge",
            }
        )
    hidden_in = {kid: parent for parent, rest in grouped for kid in rest if kid not in visible_set}
    focus = [node_id(k) for k in by_key if node_id(k) in visible_set and dropped_here(by_key[k])]
    return View(
        elements=elements,
        total=len(by_key),
        shown=shown,
        groups=[m["data"]["group_of"] for m in more_nodes],
        focus=sorted(focus, key={nid: i for i, nid in enumerate(visible)}.__getitem__),
        hidden_in=hidden_in,
    )


def _more_node(parent: str, rest: list[str], statuses: Counter[str]) -> dict[str, Any]:
    detail = ", ".join(f"{n} {s}" for s, n in sorted(statuses.items(), key=lambda kv: (-kv[1], kv[0])))
    return {
        "data": {
            "id": more_id(parent),
            "kind": "more",
            "status": "group",
            "group_of": parent,
            "count": len(rest),
            "label": f"+{len(rest)} more\n({detail})",
        },
        "classes": "more",
    }


def _reachable(start: list[str], children: Mapping[str, list[tuple[str, str]]]) -> set[str]:
    seen = set(start)
    stack = list(start)
    while stack:
        for kid, _ in children.get(stack.pop(), []):
            if kid not in seen:
                seen.add(kid)
                stack.append(kid)
    return seen


def incoming_keys(graph: Mapping[str, Any]) -> list[str]:
    """Keys of the nodes with no incoming edge inside the graph: where the trace root points to."""
    targets = {str(e["target"]) for e in graph.get("edges", [])}
    keys = [str(n["key"]) for n in graph.get("nodes", []) if str(n["key"]) not in targets]
    return sorted(keys, key=_natural)


def trace_elements(
    trace: Mapping[str, Any], graph: Mapping[str, Any], *, expanded: Collection[str] = (), limit: int = FANOUT_LIMIT
) -> View:
    """The seed picture: trace → files → data → data → files/sinks, drops with their reasons."""
    key = str(trace["key"])
    root = trace_id(key)
    incoming = [node_id(k) for k in incoming_keys(graph)]
    view = collapse(
        graph.get("nodes", []),
        graph.get("edges", []),
        [root],
        expanded=expanded,
        limit=limit,
        extra_children={root: incoming},
    )
    name = trace.get("name")
    label = f"trace({key})" + (f"\n{name}" if name else "")
    root_node = {
        "data": {
            "id": root,
            "key": key,
            "kind": "trace",
            "status": trace.get("status") or "open",
            "label": label,
            "user": trace.get("user"),
        },
        "classes": f"trace {trace.get('status') or 'open'}",
    }
    view.elements.insert(0, root_node)
    view.focus = view.focus or [root]
    return view


def reveal(
    trace: Mapping[str, Any], graph: Mapping[str, Any], expanded: Collection[str], key: str
) -> tuple[View, list[str]]:
    """The trace's picture with node `key` drawn (a link to it opens there): the fan-outs that group it
    away are expanded, or everything when it lies under a grouped child."""
    now = list(expanded)
    target = node_id(key)
    view = trace_elements(trace, graph, expanded=now)
    while target not in view.hidden_in and not any(e["data"]["id"] == target for e in view.nodes()):
        if EXPAND_ALL in now or not any(str(n["key"]) == key for n in graph.get("nodes", [])):
            return view, now
        now = [EXPAND_ALL]
        view = trace_elements(trace, graph, expanded=now)
    while target in view.hidden_in:
        now.append(view.hidden_in[target])
        view = trace_elements(trace, graph, expanded=now)
    return view, now


def lineage_elements(lineage: Mapping[str, Any], *, expanded: Collection[str] = (), limit: int = FANOUT_LIMIT) -> View:
    """A lineage walk: the start node marked as root; sources (no incoming edge) drawn first; each
    trace's nodes in one box named after it (cytoscape compound parents), tinted by trace."""
    nodes = lineage.get("nodes", [])
    root_key = str(lineage.get("root") or (nodes[0]["key"] if nodes else ""))
    roots = [node_id(k) for k in incoming_keys(lineage)]
    view = collapse(
        nodes,
        lineage.get("edges", []),
        roots,
        expanded=expanded,
        limit=limit,
        root_marks={node_id(root_key)} if root_key else (),
    )
    view.focus = [node_id(root_key)] if root_key else []
    boxes = trace_groups(view)
    view.elements[:0] = boxes
    return view


def trace_groups(view: View) -> list[dict[str, Any]]:
    """Puts each drawn node with a trace (and its drop marker) in its trace's box; returns the boxes, in
    order of first appearance, each with its tint (styles.TRACE_TINTS, cycled)."""
    traces: dict[str, str] = {}
    owner: dict[str, str] = {}
    for e in view.nodes():
        trace = e["data"].get("trace")
        if e["data"]["kind"] in ("file", "data", "sink") and trace:
            traces.setdefault(str(trace), group_id(str(trace)))
            e["data"]["parent"] = owner[e["data"]["id"]] = group_id(str(trace))
    for e in view.nodes():
        if e["data"]["kind"] == "drop" and node_id(str(e["data"]["key"])) in owner:
            e["data"]["parent"] = owner[node_id(str(e["data"]["key"]))]
    return [
        {
            "data": {
                "id": gid,
                "key": trace,
                "kind": "group",
                "label": f"trace {trace}",
                "tint": TRACE_TINTS[i % len(TRACE_TINTS)],
            },
            "classes": "group",
        }
        for i, (trace, gid) in enumerate(traces.items())
    ]


def merge_lineage(current: Mapping[str, Any] | None, more: Mapping[str, Any]) -> dict[str, Any]:
    """Union of two lineage answers (an explored graph plus one node's expansion); keeps the first root."""
    if not current:
        return {
            "root": more.get("root"),
            "nodes": list(more.get("nodes", [])),
            "edges": list(more.get("edges", [])),
            "truncated": bool(more.get("truncated")),
        }
    nodes = {str(n["key"]): n for n in current.get("nodes", [])}
    for n in more.get("nodes", []):
        nodes.setdefault(str(n["key"]), n)
    edges = {(e["source"], e["target"], e.get("op")): e for e in current.get("edges", [])}
    for e in more.get("edges", []):
        edges.setdefault((e["source"], e["target"], e.get("op")), e)
    return {
        "root": current.get("root"),
        "nodes": list(nodes.values()),
        "edges": list(edges.values()),
        "truncated": bool(current.get("truncated")) or bool(more.get("truncated")),
    }
