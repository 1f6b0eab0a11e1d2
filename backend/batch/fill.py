"""The fill job: files, data and sinks that came without a user get the user of the trace that owns them, in
the graph, each fill recorded in SQL (which node, which user, from which trace, when, and what it replaced).

It looks at the traces whose summary was stored since it last did (the summaries job marks them): their
nodes without a user are filled, and nodes an earlier fill gave a user that is no longer the trace's (a late
trace.started named another) get the trace's user now. A trace whose trace.started has not come within the
grace period is flagged user_missing. Re-runnable: a second pass over the same traces fills nothing.
"""

from __future__ import annotations

from backend.db.base import TraceSummaries, UserFillRow
from backend.domain.summaries import TraceRules
from graph.base import GraphStore, UserFill

TRACES_PER_PASS = 200


class Fill:
    def __init__(
        self, store: TraceSummaries, graph: GraphStore, rules: TraceRules, traces_per_pass: int = TRACES_PER_PASS
    ) -> None:
        self.store = store
        self.graph = graph
        self.rules = rules
        self.traces_per_pass = traces_per_pass

    def run(self) -> bool:
        """One pass; True while more traces wait."""
        now = self.rules.clock()
        self.store.flag_user_missing(now - self.rules.grace)
        pending = self.store.fill_pending(self.traces_per_pass)
        if not pending:
            return False
        keys = [key for key, _ in pending]
        earlier = [UserFill(f.trace_key, f.kind, f.node_key, f.user_id) for f in self.store.fills(keys)]
        made = self.graph.fill_users(keys, earlier)
        self.store.record_fills([UserFillRow(f.key, f.kind, f.trace, f.user, f.was, now) for f in made])
        self.store.filled(pending)
        return len(pending) == self.traces_per_pass
