"""The seed scenario (trace A) as events: what `ftel demo` sends and what the tests check."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

_NS = uuid.UUID("5f7d3c1e-9a4b-4c1e-8a57-2f6f0c3d9b10")


def seed_events(trace: str = "A", user: str = "demo-user", start: datetime | None = None) -> list[dict[str, Any]]:
    """File1 and File2 dropped with reasons; File3 → data1, data2, data3; data1 → data4;
    data2 → data5 → File4; data3 → data6; logs along the way. Ids and times are fixed per trace,
    so sending it twice stores nothing new."""
    t0 = start or datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    steps: list[dict[str, Any]] = []

    def add(**event: Any) -> None:
        n = len(steps)
        event.setdefault("trace", trace)
        event["id"] = str(uuid.uuid5(_NS, f"{trace}/{n}"))
        event["time"] = (t0 + timedelta(seconds=n)).isoformat().replace("+00:00", "Z")
        steps.append(event)

    def file(key: str) -> dict[str, str]:
        return {"kind": "file", "key": key}

    def data(key: str) -> dict[str, str]:
        return {"kind": "data", "key": key}

    add(type="trace.started", user=user, attrs={"name": "seed scenario: nightly import"})
    for name in ("File1", "File2", "File3"):
        add(type="file.received", node={**file(name), "name": f"{name.lower()}.csv"}, attrs={"source": "sftp"})
        add(type="file.stored", node=file(name), attrs={"codec": "zstd"})
    add(type="log", node=file("File1"), level="warn", message="header row missing; cannot map columns")
    add(type="file.dropped", node=file("File1"), reason="header row missing (see log)", code="E_HEADER")
    add(type="log", node=file("File2"), level="error", message="checksum mismatch against manifest")
    add(type="file.dropped", node=file("File2"), reason="checksum mismatch (see log)", code="E_CHECKSUM")
    add(type="flow", op="parse", inputs=[file("File3")], outputs=[data("data1"), data("data2"), data("data3")])
    add(type="log", node=data("data1"), level="info", message="parsed 120 rows")
    add(type="flow", op="enrich", inputs=[data("data1")], outputs=[data("data4")])
    add(type="flow", op="aggregate", inputs=[data("data2")], outputs=[data("data5")])
    add(type="log", node=data("data5"), level="debug", message="aggregated by customer")
    add(type="flow", op="write", inputs=[data("data5")], outputs=[{**file("File4"), "name": "report.parquet"}])
    add(type="flow", op="normalize", inputs=[data("data3")], outputs=[data("data6")])
    add(type="log", level="info", message="nightly import finished")
    add(type="trace.ended")
    return steps
