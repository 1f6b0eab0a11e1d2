# mypy: ignore-errors
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UploadHeader(_message.Message):
    __slots__ = ("trace", "key", "group", "filename", "content_type")
    TRACE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    trace: str
    key: str
    group: str
    filename: str
    content_type: str
    def __init__(self, trace: _Optional[str] = ..., key: _Optional[str] = ..., group: _Optional[str] = ..., filename: _Optional[str] = ..., content_type: _Optional[str] = ...) -> None: ...

class UploadRequest(_message.Message):
    __slots__ = ("header", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: UploadHeader
    chunk: bytes
    def __init__(self, header: _Optional[_Union[UploadHeader, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class StoredFile(_message.Message):
    __slots__ = ("key", "group", "size", "stored_size", "codec", "sha256", "trace", "stored_at")
    KEY_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    STORED_SIZE_FIELD_NUMBER: _ClassVar[int]
    CODEC_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    TRACE_FIELD_NUMBER: _ClassVar[int]
    STORED_AT_FIELD_NUMBER: _ClassVar[int]
    key: str
    group: str
    size: int
    stored_size: int
    codec: str
    sha256: str
    trace: str
    stored_at: str
    def __init__(self, key: _Optional[str] = ..., group: _Optional[str] = ..., size: _Optional[int] = ..., stored_size: _Optional[int] = ..., codec: _Optional[str] = ..., sha256: _Optional[str] = ..., trace: _Optional[str] = ..., stored_at: _Optional[str] = ...) -> None: ...
