"""Regenerate the committed gRPC stubs from proto/files.proto: `python -m backend.grpc.generate`.

Needs grpcio-tools (a dev dependency); the server at run time needs only grpcio and protobuf.
The generated service module imports its messages with a relative import so that it works as
part of the `backend.grpc` package."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROTO = ROOT / "proto" / "files.proto"
OUT = Path(__file__).resolve().parent
_UNCHECKED = "# mypy: ignore-errors\n"  # generated code is not held to mypy strict


def generate(out_dir: Path = OUT) -> list[Path]:
    from grpc_tools import protoc  # dev dependency

    args = [
        "protoc",
        f"-I{PROTO.parent}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        str(PROTO),
    ]
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed on {PROTO}")
    service, stub = out_dir / "files_pb2_grpc.py", out_dir / "files_pb2.pyi"
    service.write_text(
        _UNCHECKED
        + service.read_text().replace("import files_pb2 as files__pb2", "from . import files_pb2 as files__pb2")
    )
    stub.write_text(_UNCHECKED + stub.read_text())
    return [out_dir / "files_pb2.py", stub, service]


if __name__ == "__main__":
    for path in generate(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT):
        print(path)
