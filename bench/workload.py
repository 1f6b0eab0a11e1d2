"""The standard workloads every bench sends, deterministic for a seed.

- seed mix (`seed_mix`): what the specification describes. Traces of ~10 files (`files`); per file
  `file.received`, `file.stored`, a `flow` file → data (parse), one or two data → data flows (derive), a flow
  data → output file or sink (write) and ~8 `log` events at mixed levels on the file and its data; ~5 % of
  the files are dropped with a reason right after they are stored (no flows after that); most traces
  (90 %) end with `trace.ended`. Every event carries its time, so sending the same workload twice is a
  duplicate of every event.
- flow-only mix (`flow_only`): every event a `flow` that brings new nodes and a new edge
  (file → data → data → sink chains): the graph's worst case.

    python bench/workload.py --mix seed --events 10000 > events.ndjson    # NDJSON, one event per line

Sizes from 10k to 1M events (lists); `seed_traces` is an iterator for sizes beyond memory.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

import orjson

START = datetime(2026, 1, 1, tzinfo=UTC)
LEVELS = ("debug", "info", "info", "info", "warn", "error")
DROP_REASONS = ("schema validation failed", "duplicate file", "empty file", "virus scan failed")
Event = dict[str, Any]


def _at(step: int) -> str:
    return (START + timedelta(microseconds=137 * step)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def seed_traces(seed: int = 7, files: int = 10, prefix: str = "seed") -> Iterator[list[Event]]:
    """The seed mix, one trace (its events in order) at a time, for ever."""
    rng = random.Random(seed)
    step = 0
    number = 0

    def ev(**fields: Any) -> Event:
        nonlocal step
        step += 1
        return {"time": _at(step), **fields}

    while True:
        trace, user = f"{prefix}-t{number}", f"user-{number % 37}"
        out: list[Event] = [ev(type="trace.started", trace=trace, user=user, attrs={"name": f"import {number}"})]
        for i in range(max(1, files + rng.randint(-2, 2))):
            stem = f"{prefix}/in/{number}/f{i}"
            file = {"kind": "file", "key": f"s3://landing/{stem}.csv", "name": f"f{i}.csv"}
            out.append(ev(type="file.received", trace=trace, user=user, node=file))
            out.append(ev(type="file.stored", trace=trace, node=file, attrs={"bytes": rng.randint(1_000, 9_000_000)}))
            if rng.random() < 0.05:
                reason = rng.choice(DROP_REASONS)
                out.append(ev(type="file.dropped", trace=trace, node=file, reason=reason, code="E" + reason[:3]))
                out.extend(_logs(ev, rng, trace, [file], 3))
                continue
            data = [{"kind": "data", "key": f"{stem}#rows"}]
            out.append(ev(type="flow", trace=trace, inputs=[file], outputs=data[:1]))
            for d in range(rng.randint(1, 2)):
                data.append({"kind": "data", "key": f"{stem}#d{d}"})
                out.append(ev(type="flow", trace=trace, op="derive", inputs=data[-2:-1], outputs=data[-1:]))
            sink = (
                {"kind": "sink", "key": f"postgres://warehouse/orders#{number % 50}"}
                if rng.random() < 0.5
                else {"kind": "file", "key": f"s3://curated/{stem}.parquet"}
            )
            out.append(ev(type="flow", trace=trace, op="write", inputs=data[-1:], outputs=[sink]))
            out.extend(_logs(ev, rng, trace, [file, *data], rng.randint(6, 10)))
        if rng.random() < 0.9:
            out.append(ev(type="trace.ended", trace=trace))
        yield out
        number += 1


def _logs(ev: Any, rng: random.Random, trace: str, nodes: list[Event], n: int) -> list[Event]:
    return [
        ev(type="log", trace=trace, node=rng.choice(nodes), level=rng.choice(LEVELS), message=f"step {k} done")
        for k in range(n)
    ]


def seed_mix(events: int, seed: int = 7, files: int = 10, prefix: str = "seed") -> list[Event]:
    """The first `events` events of the seed mix (the last trace may be cut short)."""
    return list(islice((e for trace in seed_traces(seed, files, prefix) for e in trace), events))


def flow_only(events: int, prefix: str = "flow") -> list[Event]:
    """File → data → data → sink chains, every event a flow with a new edge and at least one new node."""
    out: list[Event] = []
    i = 0
    while len(out) < events:
        trace = f"{prefix}-{i // 50}"
        f, d1, d2, s = f"{prefix}/f{i}", f"{prefix}/d{i}a", f"{prefix}/d{i}b", f"{prefix}/s{i % 97}"
        at = _at(3 * i)
        for op, (ak, a), (bk, b) in (
            ("parse", ("file", f), ("data", d1)),
            ("derive", ("data", d1), ("data", d2)),
            ("write", ("data", d2), ("sink", s)),
        ):
            out.append(
                {
                    "type": "flow",
                    "trace": trace,
                    "time": at,
                    "op": op,
                    "inputs": [{"kind": ak, "key": a}],
                    "outputs": [{"kind": bk, "key": b}],
                }
            )
        i += 1
    return out[:events]


def map_keys(events: list[Event], fn: Callable[[str], str]) -> list[Event]:
    """The events with every node key (node, inputs, outputs) passed through `fn`; the input is not changed."""

    def ref(r: Event) -> Event:
        return {**r, "key": fn(r["key"])}

    out = []
    for e in events:
        e = dict(e)
        if "node" in e:
            e["node"] = ref(e["node"])
        for side in ("inputs", "outputs"):
            if side in e:
                e[side] = [ref(r) for r in e[side]]
        out.append(e)
    return out


MIXES = {"seed": seed_mix, "flow": flow_only}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mix", choices=sorted(MIXES), default="seed")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    events = seed_mix(args.events, args.seed) if args.mix == "seed" else flow_only(args.events)
    out = sys.stdout.buffer
    for e in events:
        out.write(orjson.dumps(e) + b"\n")


if __name__ == "__main__":
    main()
