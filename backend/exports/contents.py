"""What an export holds, record by record: stored events, trace summaries or rolled-up statistics, each
encoded as NDJSON lines or CSV rows, with each record's position (named in the manifest as a chunk's first
and last record) and a cursor to resume after it.

Events are written as `{"seq", "id", "type", "time", "received_at", "trace", "node", "user", "channel",
"account", "event"}`: `event` is the stored canonical envelope, untouched, so `.event + {id, time}` can be sent
to POST /events again (the id makes that a no-op where the event is already stored)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from typing import Any, Protocol

import orjson

from backend.batch.stats import MAX_WINDOWS, WINDOWS, Stats
from backend.db.base import EventScope, ExportedEvent, ExportStore, TraceSummaryRow
from backend.domain.events import format_time

Page = tuple[list[bytes], Sequence[Any]]  # encoded records, and the records as read (positions, cursors)

EVENT_COLUMNS = ("seq", "id", "type", "time", "received_at", "trace", "node", "user", "channel", "account", "event")
SUMMARY_COLUMNS = (
    "trace",
    "user",
    "status",
    "started",
    "files",
    "dropped",
    "unconverted",
    "data",
    "outputs",
    "drop_reasons",
    "first_at",
    "last_at",
    "duration_seconds",
    "user_missing",
    "through_seq",
    "computed_at",
)
STATS_COLUMNS = ("by", "key", "start", "end", "measure", "value")


class Content(Protocol):
    """The records of one export, in a stable order, a page at a time from a cursor ('' from the start)."""

    @property
    def columns(self) -> Sequence[str]:
        """The CSV header."""
        ...

    def pages(self, cursor: str) -> Iterator[Page]: ...

    def position(self, record: Any) -> dict[str, Any]: ...

    def cursor(self, record: Any) -> str: ...

    def estimate(self) -> int | None: ...


class _Rows:
    """One CSV row at a time into bytes (the csv module's quoting, one reused buffer)."""

    def __init__(self) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\n")

    def __call__(self, row: Sequence[Any]) -> bytes:
        self._buffer.seek(0)
        self._buffer.truncate()
        self._writer.writerow(row)
        return self._buffer.getvalue().encode()


def header(columns: Sequence[str]) -> bytes:
    return _Rows()(columns)


def _time(value: datetime | None) -> str | None:
    return format_time(value) if value is not None else None


class EventsContent:
    """Stored events of a scope, by log id; read a page at a time (keyset), so memory stays flat."""

    columns: Sequence[str] = EVENT_COLUMNS

    def __init__(self, store: ExportStore, scope: EventScope, fmt: str, page: int = 5000) -> None:
        self.store, self.scope, self.page = store, scope, page
        self._encode: Callable[[ExportedEvent], bytes] = self._line if fmt == "ndjson" else self._row
        self._rows = _Rows()

    @staticmethod
    def _line(ev: ExportedEvent) -> bytes:
        return (
            orjson.dumps(
                {
                    "seq": ev.seq,
                    "id": ev.uuid,
                    "type": ev.type,
                    "time": ev.created,
                    "received_at": ev.received,
                    "trace": ev.trace_key,
                    "node": ev.node_key,
                    "user": ev.user_id,
                    "channel": ev.channel,
                    "account": ev.account,
                    "event": orjson.Fragment(ev.payload),
                }
            )
            + b"\n"
        )

    def _row(self, ev: ExportedEvent) -> bytes:
        return self._rows(
            (
                ev.seq,
                ev.uuid,
                ev.type,
                ev.created,
                ev.received,
                ev.trace_key or "",
                ev.node_key or "",
                ev.user_id or "",
                ev.channel,
                ev.account or "",
                ev.payload,
            )
        )

    def pages(self, cursor: str) -> Iterator[Page]:
        after = int(cursor or 0)
        while True:
            page = self.store.event_page(self.scope, after, self.page)
            encoded = self.encode_page(page)
            if encoded[0]:
                yield encoded
            if len(page) < self.page:
                return
            after = page[-1].seq

    def encode_page(self, page: list[ExportedEvent]) -> Page:
        """A page of events as records: one each, here."""
        return list(map(self._encode, page)), page

    def position(self, record: ExportedEvent) -> dict[str, Any]:
        return {"seq": record.seq, "id": record.uuid, "time": record.created}

    def cursor(self, record: ExportedEvent) -> str:
        return str(record.seq)

    def estimate(self) -> int:
        return self.store.count_events(self.scope)


def summary_record(s: TraceSummaryRow) -> dict[str, Any]:
    return {
        "trace": s.trace_key,
        "user": s.user_id,
        "status": s.status,
        "started": s.started,
        "files": s.files,
        "dropped": s.dropped,
        "unconverted": s.unconverted,
        "data": s.data,
        "outputs": s.outputs,
        "drop_reasons": s.drop_reasons,
        "first_at": _time(s.first_at),
        "last_at": _time(s.last_at),
        "duration_seconds": s.duration_seconds,
        "user_missing": s.user_missing,
        "through_seq": s.through_id,
        "computed_at": _time(s.computed_at),
    }


class SummariesContent:
    """The trace summaries the batch app stored, by trace key."""

    columns: Sequence[str] = SUMMARY_COLUMNS

    def __init__(
        self,
        store: ExportStore,
        since: datetime | None,
        until: datetime | None,
        trace_keys: Sequence[str] | None,
        fmt: str,
        page: int = 1000,
    ) -> None:
        self.store, self.since, self.until, self.trace_keys, self.page = store, since, until, trace_keys, page
        self.fmt = fmt
        self._rows = _Rows()

    def _encode(self, s: TraceSummaryRow) -> bytes:
        record = summary_record(s)
        if self.fmt == "ndjson":
            return orjson.dumps(record) + b"\n"
        record["drop_reasons"] = orjson.dumps(s.drop_reasons, option=orjson.OPT_SORT_KEYS).decode()
        return self._rows(["" if record[c] is None else record[c] for c in SUMMARY_COLUMNS])

    def pages(self, cursor: str) -> Iterator[Page]:
        after = cursor
        while True:
            page = self.store.summary_page(self.since, self.until, self.trace_keys, after, self.page)
            if page:
                yield list(map(self._encode, page)), page
            if len(page) < self.page:
                return
            after = page[-1].trace_key

    def position(self, record: TraceSummaryRow) -> dict[str, Any]:
        return {"trace": record.trace_key}

    def cursor(self, record: TraceSummaryRow) -> str:
        return record.trace_key

    def estimate(self) -> int | None:
        return None


@dataclass(frozen=True)
class StatsRecord:
    n: int  # the record's place in the export: stats are recomputed when an export resumes
    by: str | None
    bucket: dict[str, Any]
    measure: str | None = None  # CSV: one row per measure
    value: Any = None


def _flat(prefix: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _flat(f"{prefix}.{k}" if prefix else str(k), v)
    else:
        yield prefix, value


class StatsContent:
    """Rolled-up statistics per window, for the whole service and per key of each dimension asked: NDJSON one
    bucket (as GET /stats answers it, plus `by`) per line; CSV one row per measure (by, key, start, end,
    measure, value), so every row has the same columns."""

    columns: Sequence[str] = STATS_COLUMNS

    def __init__(
        self, stats: Stats, window: str, since: datetime, until: datetime, by: Sequence[str | None], fmt: str
    ) -> None:
        self.stats, self.window, self.since, self.until, self.by, self.fmt = stats, window, since, until, by, fmt
        self._rows = _Rows()

    def _records(self) -> Iterator[StatsRecord]:
        """Read 1,000 windows at a time (since and until are window-aligned: the pieces meet exactly)."""
        n = 0
        step = timedelta(minutes=15 * WINDOWS[self.window]) * min(MAX_WINDOWS, 1000)
        for by in self.by:
            start = self.since
            while start < self.until:
                end = start + step if self.until - start > step else self.until  # (no date past year 9999)
                for bucket in self.stats.windows(self.window, start, end, by)["buckets"]:
                    if self.fmt == "ndjson":
                        n += 1
                        yield StatsRecord(n, by, bucket)
                        continue
                    measures = {k: v for k, v in bucket.items() if k not in ("start", "end", "key")}
                    for measure, value in _flat("", measures):
                        n += 1
                        yield StatsRecord(n, by, bucket, measure, value)
                start = end

    def _encode(self, r: StatsRecord) -> bytes:
        if self.fmt == "ndjson":
            return orjson.dumps({"by": r.by, **r.bucket}) + b"\n"
        b = r.bucket
        return self._rows(
            (r.by or "", b["key"] or "", b["start"], b["end"], r.measure, "" if r.value is None else r.value)
        )

    def pages(self, cursor: str) -> Iterator[Page]:
        skip = int(cursor or 0)
        records = (r for r in self._records() if r.n > skip)
        while page := list(islice(records, 1000)):
            yield list(map(self._encode, page)), page

    def position(self, record: StatsRecord) -> dict[str, Any]:
        return {"n": record.n, "by": record.by, "key": record.bucket["key"], "start": record.bucket["start"]}

    def cursor(self, record: StatsRecord) -> str:
        return str(record.n)

    def estimate(self) -> int | None:
        return None
