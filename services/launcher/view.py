"""The live status view of `kubeling up` (and `kubeling status`), drawn with rich."""
from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from .health import ClusterStatus


def _mark(ok: bool | None) -> Text:
    if ok is None:
        return Text("running", style="green")
    return Text("healthy", style="green") if ok else Text("down", style="red")


def render(name: str, st: ClusterStatus) -> Group:
    comps = Table(title=f"kubeling cluster '{name}'", title_justify="left", expand=False)
    for col in ("component", "kind", "pid", "state"):
        comps.add_column(col)
    for c in st.components:
        comps.add_row(c.name, c.kind, str(c.pid or "-"), _mark(c.healthy if c.pid else False))
    raft = Text("store: no leader", style="red")
    if st.raft:
        raft = Text(f"store: leader {st.raft['leader']}  term {st.raft['term']}  revision {st.raft['revision']}")
    nodes = Table(title="nodes", title_justify="left")
    for col in ("node", "ready", "pods"):
        nodes.add_column(col)
    for n in st.nodes:
        mine = [p["name"] for p in st.pods if p["node"] == n["name"]]
        style = "green" if n["ready"] == "True" else "red"
        nodes.add_row(n["name"], Text(n["ready"], style=style), ", ".join(mine[:6]) + (" ..." if len(mine) > 6 else ""))
    pending = [p["name"] for p in st.pods if not p["node"]]
    parts = [comps, raft, nodes]
    if pending:
        parts.append(Text(f"pending: {', '.join(pending[:10])}", style="yellow"))
    parts.append(Text("Ctrl-C stops the cluster; `kubeling up -d` runs it in the background.", style="dim"))
    return Group(*parts)
