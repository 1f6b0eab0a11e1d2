"""gRPC upload service: proto/files.proto, generated stubs (files_pb2*.py), server and client."""
