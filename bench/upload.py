"""File upload throughput, beside a raw write of the same bytes with the same compressor.

    python bench/upload.py [--mib 512] [--codec zstd|gzip] [--runs 3]

Makes one file of mixed content (half CSV-like text, half random bytes), then in the same run:

  (raw)  read the file in 1 MiB chunks, compress with the same codec and level, write and fsync
         the result into the server's data dir — what storage alone costs;
  (rest) POST /api/v1/files to a real `ftel serve` (multipart over HTTP on 127.0.0.1): parse,
         hash, compress, write, fsync, record, emit file.stored;
  (grpc) the same through the gRPC upload service;
  (curl) the same REST upload and download with curl as the client (when curl is installed): the
         Python client shares the two cores with the server, curl much less;
  and downloads (GET …/content, decompressed while streaming) beside a raw read + decompress.

Prints MiB/s of original bytes (median of the runs) and the ratios to the raw reference, the server's
RSS growth (peak above the level before, sampled every 20 ms) during the REST upload and download, and
deflate at the group archives' gzip level on the file's random half beside stored blocks (level 0),
which is why archives store incompressible files uncompressed (backend/storage/archive.py).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backend.grpc.client import upload as grpc_upload  # noqa: E402
from backend.settings import Compression  # noqa: E402
from backend.storage.archive import GZIP_LEVEL, STORED_LEVEL  # noqa: E402
from backend.storage.codec import Encoder, decode  # noqa: E402
from tests.conftest import ADMIN, Api, PeakRss, Server, free_port  # noqa: E402

CHUNK = 1024 * 1024


def make_file(path: Path, mib: int) -> str:
    """Half text rows, half random bytes, in 1 MiB chunks; returns its sha256."""
    rng = random.Random(42)
    digest = hashlib.sha256()
    with open(path, "wb") as out:
        for i in range(mib):
            if i % 2:
                chunk = rng.randbytes(CHUNK)
            else:
                rows = [
                    f"2026-11-28T12:{i % 60:02d}:{j % 60:02d}Z,sensor-{rng.randrange(500)},{rng.random():.6f},ok\n"
                    for j in range(CHUNK // 40)
                ]
                chunk = "".join(rows).encode()[:CHUNK].ljust(CHUNK, b"\n")
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def read_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk


def raw_write(src: Path, dest: Path, codec: Compression) -> float:
    started = time.perf_counter()
    with open(dest, "wb") as out:
        for piece in Encoder(codec).encode(read_chunks(src)):
            out.write(piece)
        out.flush()
        os.fsync(out.fileno())
    return time.perf_counter() - started


def raw_read(compressed: Path, size: int, codec: Compression) -> float:
    started = time.perf_counter()
    n = sum(len(c) for c in decode(read_chunks(compressed), codec.value, size))
    assert n == size
    return time.perf_counter() - started


def deflate(path: Path, level: int, limit: int = 64) -> float:
    """MiB/s of gzip (zlib, as tar_gz) at `level` over the file's random chunks (the odd ones, at most `limit`)."""
    chunks = 0
    started = time.perf_counter()
    deflater = zlib.compressobj(level, zlib.DEFLATED, 31)
    for i, chunk in enumerate(read_chunks(path)):
        if i % 2 and chunks < limit:
            deflater.compress(chunk)
            chunks += 1
    deflater.flush()
    return chunks / (time.perf_counter() - started)


def curl(*args: str) -> float:
    """Seconds curl took; fails unless the answer is 2xx."""
    started = time.perf_counter()
    done = subprocess.run(
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", *args], capture_output=True, text=True
    )
    took = time.perf_counter() - started
    assert done.returncode == 0 and done.stdout.startswith("2"), (done.stdout, done.stderr)
    return took


def multipart(path: Path, size: int, key: str) -> tuple[Iterator[bytes], dict[str, str]]:
    boundary = f"bench{key}"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="trace"\r\n\r\nbench\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="key"\r\n\r\n{key}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{key}"\r\n\r\n'
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def body() -> Iterator[bytes]:
        yield head
        yield from read_chunks(path)
        yield tail

    headers = {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Length": str(len(head) + size + len(tail)),
    }
    return body(), headers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=int, default=512, help="file size in MiB")
    parser.add_argument("--codec", choices=[c.value for c in Compression], default="zstd")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    codec = Compression(args.codec)
    size = args.mib * CHUNK

    with tempfile.TemporaryDirectory(prefix="ftel-bench-upload-") as tmp:
        work = Path(tmp)
        source = work / "source.bin"
        expected = make_file(source, args.mib)
        grpc_port = free_port()
        (work / "data").mkdir()
        server = Server(
            {
                **ADMIN,
                "FT_COMPRESSION": codec.value,
                "FT_GRPC_PORT": str(grpc_port),
                "FT_RETENTION_INTERVAL_SECONDS": "0",
                "FT_LOG_LEVEL": "WARNING",
            },
            "serve",
            work / "data",
        )
        try:
            api = Api(server.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])
            token = str(api.http.headers["Authorization"]).split()[1]
            has_curl = shutil.which("curl") is not None
            times: dict[str, list[float]] = {
                "raw write": [],
                "REST upload": [],
                "gRPC upload": [],
                "raw read": [],
                "REST download": [],
            }
            if has_curl:
                times |= {"curl upload": [], "curl download": []}
            rss: dict[str, list[float]] = {"REST upload": [], "REST download": []}
            stored_size = 0
            for run in range(args.runs):
                raw = work / "data" / f"raw-{run}{'.zst' if codec is Compression.zstd else '.gz'}"
                times["raw write"].append(raw_write(source, raw, codec))
                times["raw read"].append(raw_read(raw, size, codec))
                raw.unlink()

                body, headers = multipart(source, size, f"rest-{run}")
                with PeakRss(server.proc.pid) as peak:
                    started = time.perf_counter()
                    r = api.http.post("/api/v1/files", content=body, headers=headers, timeout=600)
                    times["REST upload"].append(time.perf_counter() - started)
                rss["REST upload"].append(peak.growth / CHUNK)
                assert r.status_code == 201 and r.json()["sha256"] == expected, r.text
                stored_size = r.json()["stored_size"]

                started = time.perf_counter()
                stored = grpc_upload(
                    f"127.0.0.1:{grpc_port}", token, read_chunks(source), trace="bench", key=f"grpc-{run}"
                )
                times["gRPC upload"].append(time.perf_counter() - started)
                assert stored.sha256 == expected

                digest = hashlib.sha256()
                with PeakRss(server.proc.pid) as peak:
                    started = time.perf_counter()
                    with api.http.stream("GET", f"/api/v1/files/rest-{run}/content", timeout=600) as resp:
                        for chunk in resp.iter_raw(CHUNK):
                            digest.update(chunk)
                    times["REST download"].append(time.perf_counter() - started)
                rss["REST download"].append(peak.growth / CHUNK)
                assert digest.hexdigest() == expected

                if has_curl:
                    auth = f"Authorization: Bearer {token}"
                    form = ["-F", "trace=bench", "-F", f"key=curl-{run}", "-F", f"file=@{source}"]
                    times["curl upload"].append(curl("-H", auth, *form, f"{server.base}/api/v1/files"))
                    times["curl download"].append(curl("-H", auth, f"{server.base}/api/v1/files/rest-{run}/content"))
            deflate_mibs = {level: deflate(source, level) for level in (GZIP_LEVEL, STORED_LEVEL)}
        finally:
            server.stop()

    mibs = {name: args.mib / statistics.median(ts) for name, ts in times.items()}
    print(
        f"file: {args.mib} MiB (half text, half random), codec {codec.value}, stored {stored_size / CHUNK:.1f} MiB "
        f"(ratio {size / max(stored_size, 1):.2f}), median of {args.runs} runs, {os.cpu_count()} cores"
    )
    print(f"{'path':<14} {'MiB/s':>8}  {'vs raw':>7}")
    for name in ("raw write", "REST upload", "gRPC upload", "curl upload"):
        if name in mibs:
            print(f"{name:<14} {mibs[name]:8.1f}  {mibs[name] / mibs['raw write']:7.2f}")
    for name in ("raw read", "REST download", "curl download"):
        if name in mibs:
            print(f"{name:<14} {mibs[name]:8.1f}  {mibs[name] / mibs['raw read']:7.2f}")
    if "curl upload" not in mibs:
        print("(curl not installed: no curl rows)")
    print(
        "server RSS growth (median): "
        + ", ".join(f"{name} +{statistics.median(grown):.1f} MiB" for name, grown in rss.items())
    )
    print(
        f"archive gzip on the random half: level {GZIP_LEVEL} {deflate_mibs[GZIP_LEVEL]:.1f} MiB/s, "
        f"stored blocks (level {STORED_LEVEL}) {deflate_mibs[STORED_LEVEL]:.1f} MiB/s"
    )


if __name__ == "__main__":
    main()
