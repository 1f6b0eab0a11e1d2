"""The one Settings object: every FT_ variable is read here and nowhere else."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from backend import failpoints


class GraphBackend(str, Enum):
    embedded = "embedded"
    neo4j = "neo4j"


class StorageBackend(str, Enum):
    local = "local"
    s3 = "s3"


class Compression(str, Enum):
    zstd = "zstd"
    gzip = "gzip"


class ConfigError(Exception):
    """Settings that cannot work; the message says which variable and why."""


class Settings(BaseSettings):
    """Configuration of one process, built once at the edge and passed down."""

    model_config = SettingsConfigDict(env_prefix="FT_", env_file=".env", extra="ignore")

    data_dir: Path = Path("./.ftel-data")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    database_url: str | None = None

    graph: GraphBackend = GraphBackend.embedded
    neo4j_uri: str = "bolt://127.0.0.1:7687"
    neo4j_user: str = "neo4j"
    neo4j_password: str = "neo4j"
    neo4j_database: str | None = None
    # How long a graph read may retry a failing Neo4j (driver retries) and wait for a connection; merges are
    # not retried by the driver (a failed merge is deferred: its events are stored and merged later).
    neo4j_retry_seconds: float = Field(1.0, ge=0, le=300)
    neo4j_connect_timeout_seconds: float = Field(2.0, gt=0, le=60)
    # Merges into a shared graph (Neo4j, with Redis) take turns across processes; one waits at most this long,
    # then its events stay stored and unprojected and the projector merges them (a request never waits more)
    graph_write_wait_seconds: float = Field(0.5, gt=0, le=60)

    redis_url: str | None = None
    embedded_redis_port: int = Field(6380, ge=0, le=65535)
    embedded_redis: bool = True
    # Password of the service's user on the embedded Redis; unset: generated once into <data dir>/redis-password
    embedded_redis_password: str | None = Field(None, min_length=8)
    # Per-subscription Redis users that may only XADD to their own stream (docs/streams.md); unset: on for
    # the embedded Redis, off for FT_REDIS_URL (the service's user there then needs ACL SETUSER/DELUSER/LIST)
    redis_manage_acl: bool | None = None
    kafka_bootstrap: str | None = None

    # Stream ingestion (subscriptions on Redis Streams / Kafka), see docs/streams.md
    redis_public_url: str | None = None  # endpoint handed to subscribers; default: FT_REDIS_URL without password
    kafka_topic: str = Field("ftel.events", min_length=1, max_length=249)
    kafka_partitions: int = Field(6, ge=1, le=1000)
    stream_group: str = Field("ftel", min_length=1, max_length=100)
    consumer_name: str | None = None  # default: <host>-<pid> (worker), <host>-<data dir hash> (all-in-one)
    stream_read_count: int = Field(500, ge=1, le=100_000)
    stream_batch_events: int = Field(2000, ge=1, le=100_000)  # reads are gathered up to this per store + merge
    stream_block_ms: int = Field(1000, ge=1, le=60_000)
    stream_claim_idle_ms: int = Field(60_000, ge=100)
    stream_max_deliveries: int = Field(5, ge=1, le=1000)
    stream_refresh_seconds: float = Field(30.0, gt=0)
    stream_reconcile_seconds: int = Field(60, ge=1, le=86_400)
    stream_dlq_maxlen: int = Field(100_000, ge=100)
    # A consumer not heard of for this long, with nothing pending, is removed from its groups and from ft:consumers
    consumer_grace_seconds: float = Field(300.0, ge=10)
    subscription_idle_minutes: float = Field(10.0, gt=0)
    # Test hook: after storing a batch and before acknowledging it, write the entry ids to this file
    # and wait until the file is removed (the crash tests SIGKILL the worker meanwhile).
    debug_pause_before_ack: Path | None = None
    # Crash tests: SIGKILL this process at a named step (backend/failpoints.py), e.g. "ingest.stored=3"
    failpoints: str | None = None

    storage: StorageBackend = StorageBackend.local
    s3_endpoint: str | None = None
    s3_bucket: str = "file-telemetry"
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_region: str | None = None

    # Files (backend/storage): compression, limits, retention, gRPC upload port.
    storage_dir: Path | None = None  # local backend; default <data_dir>/files
    compression: Compression = Compression.zstd
    compression_level: int | None = Field(None, ge=1, le=22)  # default: zstd 3, gzip 6
    max_upload_bytes: int = Field(5 * 1024**3, ge=1)
    retention_max_bytes: int = Field(0, ge=0)  # 0: no limit
    retention_max_files: int = Field(0, ge=0)  # 0: no limit
    retention_max_age_days: float = Field(0, ge=0)  # 0: no limit
    retention_grace_seconds: float = Field(3600, ge=0)
    retention_interval_seconds: float = Field(300, ge=0)  # 0: only on demand (`ftel retention run`)
    # The batch app (#13): how often each batch job runs (0: only `ftel batch --once`), and how long a batch
    # process holds a job's lease without renewing it (a killed run's job is free again after this).
    batch_interval_seconds: float = Field(60, ge=0)
    batch_lease_seconds: float = Field(300, ge=5, le=86_400)
    # Rollups (backend/batch/rollups.py): events counted per pass, and how long after a window's end a file
    # received in it may still flow on (or be dropped) before the window counts it unconverted.
    rollup_batch_events: int = Field(20_000, ge=1, le=1_000_000)
    stats_unconverted_grace_seconds: float = Field(900, ge=0)
    # Trace summaries (backend/batch/summaries.py): a trace without trace.ended whose last event (its own time) is
    # older than this counts as ended, `idle-ended` ("the last log is the last log even without an end marker").
    trace_idle_minutes: float = Field(60, gt=0)
    # Filling users (backend/batch/fill.py): a trace whose trace.started has not come this long after its first
    # event is flagged `user_missing`.
    fill_grace_minutes: float = Field(30, ge=0)
    # Insights (backend/batch/insights.py): a file received (or stored) with no event since for this long is stuck.
    stuck_minutes: float = Field(60, gt=0)
    # Exports (backend/exports): a chunk holds at most this many records and bytes (before compression), small
    # enough to mail; exports are deleted this long after they were asked for; a runner renews its lease on an
    # export with every chunk (a killed runner's export resumes after this); each account has at most this many
    # exports queued or running; runners look for new exports this often (0: this process runs none).
    export_chunk_events: int = Field(50_000, ge=1, le=10_000_000)
    export_chunk_bytes: int = Field(8 * 1024 * 1024, ge=64 * 1024, le=1024**3)
    export_ttl_hours: float = Field(24, gt=0, le=24 * 365)
    export_lease_seconds: float = Field(120, ge=5, le=86_400)
    export_max_active: int = Field(4, ge=1, le=1000)
    export_poll_seconds: float = Field(1.0, ge=0)
    grpc_port: int = Field(0, ge=0, le=65535)  # 0: no gRPC upload server
    worker_metrics_port: int = Field(0, ge=0, le=65535)  # `ftel worker`: Prometheus /metrics on FT_HOST; 0: off

    admin_client_id: str | None = None
    admin_client_secret: str | None = None
    jwt_secret: str | None = None
    token_ttl_seconds: int = Field(900, ge=30, le=86400)
    # How long a sign-in that asked for a refresh token (the dashboard's) renews access tokens: a working day.
    session_hours: float = Field(10.0, gt=0, le=24 * 30)
    # Account state behind a token is read from SQL at most this often per process (0: every request);
    # disabling or rotating an account tells every process at once (Redis ft:auth), so this bounds how long a
    # revoked token can still work if that message is lost, and how long tokens keep working while SQL is down.
    auth_cache_seconds: float = Field(60.0, ge=0, le=3600)
    # Sign-in throttling (backend/domain/signin.py): failed sign-ins per client id and per source address within a
    # moving window (shared through Redis when the process has one), then 429 with Retry-After; and at most
    # signin_concurrency Argon2 verifications at once per process (64 MiB each), a sign-in waiting at most
    # signin_queue_seconds for its turn.
    signin_client_failures: int = Field(10, ge=1, le=100_000)
    signin_address_failures: int = Field(30, ge=1, le=100_000)
    signin_window_seconds: int = Field(300, ge=1, le=86_400)
    signin_concurrency: int = Field(2, ge=1, le=64)
    signin_queue_seconds: float = Field(5.0, gt=0, le=60)
    # /metrics on the API port: open when unset (aggregate counters only), else `Authorization: Bearer <this>`
    metrics_token: str | None = None

    # Flow control (backend/flow, docs/flow.md): per-user allowances, parking, draining.
    flow_enabled: bool = True
    flow_events_per_second: float = Field(5000.0, gt=0)  # default allowance per user of an account
    flow_bytes_per_second: float = Field(8 * 1024 * 1024, gt=0)
    flow_burst_seconds: float = Field(10.0, gt=0)
    flow_max_consumer_lag: int = Field(100_000, ge=0)  # 0: not checked
    flow_max_memory_mb: int = Field(0, ge=0)  # process RSS; 0: not checked
    flow_redis_max_memory_mb: int = Field(512, ge=0)  # above this, park on disk; 0: not checked
    flow_drain_events_per_second: float = Field(2000.0, gt=0)
    flow_drain_user_quantum: int = Field(200, ge=1)  # events per user per round-robin turn
    flow_check_seconds: float = Field(1.0, gt=0)
    flow_tick_seconds: float = Field(0.2, gt=0)
    flow_spool_segment_bytes: int = Field(64 * 1024 * 1024, ge=4096)

    # SQLite: serving processes copy the write-ahead log into the database this often, off the request path
    sqlite_checkpoint_seconds: float = Field(1.0, gt=0, le=3600)
    graph_batch_size: int = Field(1000, ge=1, le=100_000)
    # The embedded graph's buffer pool (LadybugDB's own default takes most of the machine's memory)
    graph_buffer_mb: int = Field(512, ge=64, le=1024 * 1024)
    # ... and how much write-ahead log it lets build up before folding it into the database (at most a quarter
    # of the buffer pool: the log's pages wait there until folded)
    graph_checkpoint_mb: int = Field(64, ge=1, le=256 * 1024)
    max_events_per_request: int = Field(10_000, ge=1)
    max_request_bytes: int = Field(16 * 1024 * 1024, ge=1024)
    # every other request body (413 above, refused before it is read in full); POST /events (and /openlineage,
    # /lineage) has max_request_bytes,
    # POST /files max_upload_bytes, POST /auth/token (unauthenticated) max_signin_body_bytes
    max_body_bytes: int = Field(1024 * 1024, ge=1024)
    max_signin_body_bytes: int = Field(16 * 1024, ge=1024, le=1024 * 1024)
    query_row_limit: int = Field(1000, ge=1, le=100_000)
    query_timeout_seconds: float = Field(10.0, gt=0, le=300)
    # POST /graph/query: JSON size of the rows returned (truncated past it). On the embedded graph each query runs
    # in one of FT_QUERY_WORKERS child processes, whose memory above the graph's mapping is FT_QUERY_MEMORY_MB
    query_max_bytes: int = Field(8 * 1024 * 1024, ge=1024, le=1024**3)
    query_workers: int = Field(1, ge=1, le=16)
    query_memory_mb: int = Field(1024, ge=256, le=1024 * 1024)
    # GET /traces/{key}/graph: at most this many nodes and this many edges (truncated: true past it)
    trace_graph_limit: int = Field(10_000, ge=1, le=1_000_000)
    projector_interval_seconds: float = Field(2.0, gt=0)
    # the projector leaves events this young to the path that stored them (it merges them itself)
    projector_grace_seconds: float = Field(5.0, ge=0, le=3600)
    # Serving processes merge the events they store on a thread of their own, these many per merge, holding
    # at most FT_PROJECTOR_QUEUE_EVENTS in memory (past that, events wait in the log for the catch-up)
    projector_merge_events: int = Field(5000, ge=1, le=100_000)
    projector_queue_events: int = Field(20_000, ge=0, le=10_000_000)
    log_level: str = "INFO"
    log_json: bool = False

    @field_validator("failpoints")
    @classmethod
    def _known_failpoints(cls, value: str | None) -> str | None:
        failpoints.parse(value or "")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        scheme = urlsplit(value).scheme
        if scheme not in {"sqlite", "postgresql", "postgresql+psycopg", "postgres"}:
            raise ValueError(
                f"unsupported database URL scheme {scheme!r}; use sqlite:///path or postgresql://user:pass@host/db"
            )
        if scheme.startswith("postgres") and not urlsplit(value).hostname:
            raise ValueError("PostgreSQL URL needs a host, e.g. postgresql://user:pass@127.0.0.1:5432/ftel")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if urlsplit(value).scheme not in {"redis", "rediss", "unix"}:
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("redis_public_url")
    @classmethod
    def _redis_public_url(cls, value: str | None) -> str | None:
        return cls._redis_url(value)

    @field_validator("neo4j_uri")
    @classmethod
    def _neo4j_uri(cls, value: str) -> str:
        if urlsplit(value).scheme not in {"bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc"}:
            raise ValueError("must be a bolt:// or neo4j:// URI")
        return value

    @model_validator(mode="after")
    def _coherent(self) -> Settings:
        if self.storage is StorageBackend.s3 and not self.s3_endpoint:
            raise ValueError("FT_STORAGE=s3 needs FT_S3_ENDPOINT")
        if self.compression is Compression.gzip and self.compression_level is not None and self.compression_level > 9:
            raise ValueError("FT_COMPRESSION_LEVEL for gzip is 1..9")
        if self.stream_reconcile_seconds >= 60 and self.stream_reconcile_seconds % 60:
            raise ValueError("FT_STREAM_RECONCILE_SECONDS must be below 60 or a whole number of minutes")
        if bool(self.admin_client_id) != bool(self.admin_client_secret):
            raise ValueError("set both FT_ADMIN_CLIENT_ID and FT_ADMIN_CLIENT_SECRET, or neither")
        if self.graph_checkpoint_mb * 4 > self.graph_buffer_mb:
            raise ValueError(
                f"FT_GRAPH_CHECKPOINT_MB ({self.graph_checkpoint_mb}) may be at most a quarter of FT_GRAPH_BUFFER_MB "
                f"({self.graph_buffer_mb}): the write-ahead log waits in the buffer pool until it is folded"
            )
        return self

    # Derived values -------------------------------------------------------

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL in the dialect+driver form SQLAlchemy wants."""
        if self.database_url is None:
            return f"sqlite:///{(self.data_dir / 'ftel.sqlite3').resolve()}"
        url = self.database_url
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url

    @property
    def is_sqlite(self) -> bool:
        return self.sqlalchemy_url.startswith("sqlite")

    @property
    def spool_dir(self) -> Path:
        return self.data_dir / "spool"

    @property
    def graph_dir(self) -> Path:
        return self.data_dir / "graph"

    @property
    def files_dir(self) -> Path:
        """Root of the local object store."""
        return self.storage_dir if self.storage_dir is not None else self.data_dir / "files"

    @property
    def embedded_redis_password_file(self) -> Path:
        return self.data_dir / "redis-password"

    @property
    def admin_credentials_file(self) -> Path:
        return self.data_dir / "admin-credentials"

    def ensure_data_dir(self) -> None:
        """Create the data dir and prove it is writable, or raise ConfigError."""
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            probe = self.data_dir / ".write-probe"
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            raise ConfigError(f"FT_DATA_DIR={self.data_dir}: not writable ({exc.strerror or exc})") from exc


def load_settings(**overrides: object) -> Settings:
    """Build Settings from the environment, turning validation errors into one readable ConfigError."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "settings"
            name = f"FT_{loc.upper()}" if loc != "settings" else "settings"
            value = err.get("input")
            shown = "" if isinstance(value, dict) else f" (got {value!r})"
            lines.append(f"{name}: {err['msg']}{shown}")
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines)) from None
