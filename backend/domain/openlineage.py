"""OpenLineage RunEvents in: checked against the published spec, then turned into this service's envelopes,
which go through the one ingest pipeline like any others (docs/openlineage.md has the mapping both ways).

- A run belongs to the trace of its root run: the parent facet's `root`, else its parent, else the run itself.
  The trace key is that run's id, its name the root job's name, its owner (user) the root job's namespace.
- Datasets are nodes: key `namespace/name` (a name that starts with '/' is appended as is); kind `file` for
  file systems and object stores (s3, gs, hdfs, file, ...), `sink` for databases and warehouses, `data` for
  the rest; a `datasetType` facet (FILE, TABLE, VIEW, STREAM, ...) decides first.
- Inputs → outputs of a COMPLETE, RUNNING or OTHER event become a `flow` with the job's name as `op` (not of a
  START, which declares what the run means to do, nor of a FAIL or ABORT: the outputs were not made).
- START, COMPLETE, FAIL and ABORT leave a log line on the trace; FAIL drops the run's file and data inputs
  with the error message facet's message as the reason; the root run's COMPLETE, FAIL or ABORT ends the trace.
- Every envelope gets an id derived from the run id, event time and type (a flow: from the run id and its
  datasets; a trace's start: from the trace), so a RunEvent sent again, or a RUNNING and a COMPLETE naming the
  same datasets, store nothing new.
- Events this service exported carry facets of its own (`fileTelemetry_trace`, `fileTelemetry_node`): their
  trace keys, node keys and kinds come back exactly.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib.resources import files
from typing import Any

import orjson
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from backend.domain.events import RejectedEvent, format_time
from backend.domain.ids import MAX_KEY_LENGTH

SPEC_VERSION = "2-0-2"
SCHEMA_URL = f"https://openlineage.io/spec/{SPEC_VERSION}/OpenLineage.json#/$defs/RunEvent"
PRODUCER = "https://github.com/file-telemetry/file-telemetry"
FACETS_URL = PRODUCER + "/blob/main/docs/openlineage-facets.json"
NAMESPACE = "file-telemetry"  # of jobs this service names, and of datasets whose key has no scheme
TRACE_FACET = "fileTelemetry_trace"  # run facet: {trace, user, root}
NODE_FACET = "fileTelemetry_node"  # dataset facet: {key, kind, status, dropReason, logs}
_NS = uuid.UUID("5b0e9d8e-2a57-4c1e-8f0d-6c1d3e0f4a21")
_SCHEMA_URL = re.compile(
    r"^https?://openlineage\.io/spec/\d+-\d+-\d+/OpenLineage\.json(#/(\$defs|definitions)/RunEvent)?$"
)
_MARKS = ("eventType", "run", "job", "schemaURL", "producer", "eventTime")

FILE_SCHEMES = frozenset(
    "s3 s3a s3n gs gcs abfs abfss wasb wasbs adl hdfs file dbfs sftp ftp http https oss cos webhdfs".split()
)
TABLE_SCHEMES = frozenset(
    "postgres postgresql mysql mariadb sqlserver mssql oracle redshift snowflake bigquery trino presto hive db2 "
    "teradata clickhouse databricks awsathena athena sqlite duckdb cassandra mongodb kusto spanner dynamodb "
    "vertica greenplum exasol".split()
)
_TYPE_KINDS = {"FILE": "file", "TABLE": "sink", "VIEW": "sink", "MATERIALIZED_VIEW": "sink"}
LEVELS = {"START": "info", "COMPLETE": "info", "FAIL": "error", "ABORT": "warn"}
ENDS = ("COMPLETE", "FAIL", "ABORT")
NO_FLOW = ("START", "FAIL", "ABORT")  # a START declares what a run will read and write; these did not happen


class InvalidRunEvent(ValueError):
    """Not a RunEvent this service can take; the message says why."""


@cache
def _validator() -> Draft202012Validator:
    spec = orjson.loads(
        (files("backend.domain") / "openlineage_spec" / f"OpenLineage-{SPEC_VERSION}.json").read_bytes()
    )
    schema = {**spec, "$ref": "#/$defs/RunEvent"}
    schema.pop("oneOf", None)
    return Draft202012Validator(schema)


def is_run_event(item: Any) -> bool:
    """Shaped like an OpenLineage event (this service's envelopes always have `type`; OpenLineage's never)."""
    return isinstance(item, dict) and "type" not in item and any(k in item for k in _MARKS)


def check(item: Any) -> None:
    """InvalidRunEvent unless `item` is a RunEvent of the OpenLineage spec (any 1.x/2.x schemaURL)."""
    if not isinstance(item, dict):
        raise InvalidRunEvent("an OpenLineage RunEvent is a JSON object")
    url = item.get("schemaURL")
    if not isinstance(url, str) or not _SCHEMA_URL.match(url):
        raise InvalidRunEvent(
            f"schemaURL must name an OpenLineage RunEvent schema, like {SCHEMA_URL}; got {str(url)[:200]!r}"
        )
    error = best_match(_validator().iter_errors(item))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "event"
        raise InvalidRunEvent(f"{where}: {error.message[:300]}")
    try:
        uuid.UUID(item["run"]["runId"])
    except ValueError:
        raise InvalidRunEvent(f"run/runId: {str(item['run']['runId'])[:80]!r} is not a UUID") from None
    try:
        when = datetime.fromisoformat(item["eventTime"].replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRunEvent(f"eventTime: {item['eventTime'][:80]!r} is not an ISO 8601 time") from None
    if when.tzinfo is None:
        raise InvalidRunEvent("eventTime needs a time zone (Z or an offset)")


# -- datasets and nodes -------------------------------------------------------------------------------


def _scheme(namespace: str) -> str:
    return namespace.split("://", 1)[0].lower() if "://" in namespace else namespace.split(":", 1)[0].lower()


def dataset_key(namespace: str, name: str) -> str:
    """The node key of a dataset: `namespace/name` (this service's own namespace: the name alone)."""
    if namespace == NAMESPACE:
        return name
    if name.startswith("/"):
        return namespace.rstrip("/") + name
    return namespace.rstrip("/") + "/" + name


def dataset_kind(namespace: str, facets: dict[str, Any]) -> str:
    declared = facets.get("datasetType")
    if isinstance(declared, dict) and isinstance(declared.get("datasetType"), str):
        kind = _TYPE_KINDS.get(declared["datasetType"].upper())
        if kind:
            return kind
    scheme = _scheme(namespace)
    if scheme in FILE_SCHEMES:
        return "file"
    return "sink" if scheme in TABLE_SCHEMES else "data"


_SPLIT = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*://[^/]+)/(.+)$")


def dataset_of(key: str) -> tuple[str, str]:
    """(namespace, name) of a node key, the other way round: `s3://bucket/a/b.csv` → (`s3://bucket`,
    `a/b.csv`); a key without a scheme → (`file-telemetry`, key)."""
    found = _SPLIT.match(key)
    return (found.group(1), found.group(2)) if found else (NAMESPACE, key)


def short_key(key: str) -> str:
    """A key within MAX_KEY_LENGTH: a longer one (an S3 key may have 1,024 bytes) keeps its start and ends in a
    hash of the whole, so that it stays one node; the dataset's full name is the node's name."""
    if len(key) <= MAX_KEY_LENGTH:
        return key
    return key[: MAX_KEY_LENGTH - 17] + "~" + hashlib.sha256(key.encode()).hexdigest()[:16]


def _node(dataset: dict[str, Any]) -> dict[str, Any]:
    facets = dataset.get("facets") or {}
    ours = facets.get(NODE_FACET)
    if isinstance(ours, dict) and isinstance(ours.get("key"), str) and ours.get("kind") in ("file", "data", "sink"):
        key, kind = ours["key"], ours["kind"]
    else:
        key, kind = dataset_key(dataset["namespace"], dataset["name"]), dataset_kind(dataset["namespace"], facets)
    return {"kind": kind, "key": short_key(key), "name": dataset["name"][:1024]}


# -- RunEvent → envelopes -----------------------------------------------------------------------------


def _root(run: dict[str, Any], job: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The run id and job of the run's root: the parent facet's `root`, else its parent, else itself."""
    parent = (run.get("facets") or {}).get("parent")
    if isinstance(parent, dict):
        root = parent.get("root")
        if isinstance(root, dict) and isinstance(root.get("run"), dict) and isinstance(root.get("job"), dict):
            return str(root["run"].get("runId", run["runId"])), root["job"]
        if isinstance(parent.get("run"), dict) and isinstance(parent.get("job"), dict):
            return str(parent["run"].get("runId", run["runId"])), parent["job"]
    return str(run["runId"]), job


def envelopes(item: dict[str, Any]) -> list[dict[str, Any]]:
    """The envelopes one valid RunEvent stands for (see the module's docstring)."""
    run, job = item["run"], item["job"]
    run_id, state = str(run["runId"]), str(item.get("eventType") or "OTHER")
    time = format_time(datetime.fromisoformat(item["eventTime"].replace("Z", "+00:00")).astimezone(UTC))
    run_facets = run.get("facets") or {}
    root_id, root_job = _root(run, job)
    ours: dict[str, Any] = run_facets[TRACE_FACET] if isinstance(run_facets.get(TRACE_FACET), dict) else {}
    trace = ours.get("trace") if isinstance(ours.get("trace"), str) else root_id
    user = ours.get("user") if isinstance(ours.get("user"), str) else str(root_job.get("namespace") or NAMESPACE)
    is_root = bool(ours.get("root")) if "root" in ours else root_id == run_id
    job_name = f"{job['namespace']}/{job['name']}" if job["namespace"] != NAMESPACE else job["name"]
    where = {"runId": run_id, "namespace": job["namespace"], "job": job["name"], "eventType": state}

    def made(kind: str, **fields: Any) -> dict[str, Any]:
        ident = uuid.uuid5(_NS, "\x1f".join((run_id, time, state, kind)))
        return {"id": str(ident), "trace": trace, "time": time, **fields}

    out: list[dict[str, Any]] = []
    if state == "START":
        started = uuid.uuid5(_NS, f"trace.started\x1f{trace}")
        name = str(root_job.get("name") or trace)
        out.append(
            {
                "id": str(started),
                "type": "trace.started",
                "trace": trace,
                "user": user,
                "time": time,
                "attrs": {
                    "name": name,
                    "openlineage": {"runId": root_id, "namespace": root_job.get("namespace"), "job": name},
                },
            }
        )
    error: dict[str, Any] = run_facets["errorMessage"] if isinstance(run_facets.get("errorMessage"), dict) else {}
    message = str(error.get("message") or "")[:4000]
    if state in LEVELS and not ours:  # (this service's own exports carry no logs: they are not lineage)
        text = f"{job_name}: {state}" + (f": {message}" if message else "")
        out.append(made("log", type="log", level=LEVELS[state], message=text, attrs={"openlineage": where}))
    inputs = [_node(d) for d in item.get("inputs") or []]
    read = {n["key"] for n in inputs}
    outputs = [n for n in (_node(d) for d in item.get("outputs") or []) if n["key"] not in read]
    if inputs and outputs and state not in NO_FLOW:
        edges = ",".join(sorted(read)) + "\x1e" + ",".join(sorted(n["key"] for n in outputs))
        flow_id = uuid.uuid5(_NS, f"flow\x1f{run_id}\x1f{edges}")
        out.append(
            {
                "id": str(flow_id),
                "type": "flow",
                "trace": trace,
                "time": time,
                "op": str(job["name"])[:200] or "flow",
                "inputs": inputs,
                "outputs": outputs,
                "attrs": {"openlineage": where},
            }
        )
    if state == "FAIL":
        reason = message or f"job {job_name} failed"
        for n in inputs:
            if n["kind"] in ("file", "data"):
                out.append(
                    made(
                        f"drop\x1f{n['key']}",
                        type=f"{n['kind']}.dropped",
                        node=n,
                        reason=reason,
                        code="openlineage:FAIL",
                        attrs={"openlineage": where},
                    )
                )
    if state in ENDS and is_root:
        out.append(made("trace.ended", type="trace.ended", attrs={"openlineage": where}))
    return out


@dataclass
class Expanded:
    """A batch with its RunEvents replaced by their envelopes: `origin[i]` is the index in the batch sent of
    `events[i]`; `rejected` names the RunEvents that are not valid (by their index in the batch sent). A
    RunEvent is taken whole or not at all: `settle` keeps an envelope only if none of its RunEvent's was refused."""

    events: list[Any] = field(default_factory=list)
    origin: list[int] = field(default_factory=list)
    rejected: list[RejectedEvent] = field(default_factory=list)
    run_events: set[int] = field(default_factory=set)  # indices (in the batch sent) of the RunEvents expanded


def expand(raw: Sequence[Any], *, only_openlineage: bool = False) -> Expanded:
    """Replace each OpenLineage RunEvent of a batch by its envelopes (envelopes pass through as they are, or,
    with `only_openlineage`, are refused)."""
    out = Expanded()
    for index, item in enumerate(raw):
        if not is_run_event(item):
            if only_openlineage:
                out.rejected.append(
                    RejectedEvent(
                        index, "not an OpenLineage RunEvent: it needs eventTime, run, job, producer and schemaURL"
                    )
                )
            else:
                out.events.append(item)
                out.origin.append(index)
            continue
        try:
            check(item)
            derived = envelopes(item)
        except InvalidRunEvent as exc:
            out.rejected.append(RejectedEvent(index, f"openlineage: {exc}"))
            continue
        out.run_events.add(index)
        out.events.extend(derived)
        out.origin.extend([index] * len(derived))
    return out


def settle(expanded: Expanded, refused: Sequence[RejectedEvent]) -> tuple[set[int], list[RejectedEvent]]:
    """Of the envelopes that validation `refused` (indices into `expanded.events`): the indices of every
    envelope to leave out (all those of a RunEvent one of whose envelopes was refused), and the refusals by index
    in the batch sent, one per RunEvent."""
    origin = expanded.origin
    failed = {origin[r.index] for r in refused if origin[r.index] in expanded.run_events}
    dropped = {i for i, o in enumerate(origin) if o in failed}
    out: list[RejectedEvent] = []
    seen: set[int] = set()
    for r in refused:
        sent = origin[r.index]
        if sent in failed:
            if sent not in seen:
                seen.add(sent)
                out.append(RejectedEvent(sent, f"openlineage: {r.error} (nothing of this RunEvent was stored)"))
        else:
            out.append(RejectedEvent(sent, r.error))
    return dropped, out
