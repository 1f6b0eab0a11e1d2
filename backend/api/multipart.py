"""A multipart/form-data body read as it arrives: small text fields are kept, the one `file` part is
streamed out chunk by chunk, never held whole. Fields may come before or after the file."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from backend.errors import InvalidInput, Unprocessable

FILE_FIELD = "file"
MAX_FIELD_BYTES = 64 * 1024
MAX_FIELDS = 32


def boundary_of(content_type: str) -> bytes:
    """The boundary of a multipart/form-data Content-Type, or InvalidInput."""
    kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise InvalidInput(
            "expected a multipart/form-data body with a `file` part (e.g. curl -F file=@path -F trace=T)"
        )
    return boundary


class MultipartUpload:
    """Pull-driven: each method reads just enough of `body` to answer."""

    def __init__(self, body: Iterator[bytes], boundary: bytes) -> None:
        self._body = body
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self.content_type: str | None = None
        self._headers: dict[str, str] = {}
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._name: str | None = None
        self._value = bytearray()
        self._in_file = False
        self._file_seen = False
        self._file_done = False
        self._ended = False
        self._file_data: deque[bytes] = deque()
        callbacks = {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field_data,
            "on_header_value": self._header_value_data,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }
        try:
            self._parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
        except FormParserError as exc:
            raise InvalidInput(f"bad multipart boundary: {exc}") from None

    # -- pulling ---------------------------------------------------------------------------

    def fields_before_file(self) -> dict[str, str]:
        """Read up to the start of the file part (or the end of the body); the fields seen so far."""
        while not (self._in_file or self._file_done or self._ended):
            self._feed()
        return dict(self.fields)

    def file_chunks(self) -> Iterator[bytes]:
        """The content of the `file` part as it arrives."""
        self.fields_before_file()
        if not self._file_seen:
            raise Unprocessable("multipart body has no `file` part")
        while True:
            while self._file_data:
                yield self._file_data.popleft()
            if self._file_done:
                return
            self._feed()

    def all_fields(self) -> dict[str, str]:
        """Read to the end of the body; every text field."""
        while not self._ended:
            self._feed()
        return dict(self.fields)

    def _feed(self) -> None:
        try:
            chunk = next(self._body)
        except StopIteration:
            raise InvalidInput("multipart body ended before its closing boundary") from None
        try:
            self._parser.write(chunk)
        except FormParserError as exc:
            raise InvalidInput(f"malformed multipart body: {exc}") from None

    # -- parser callbacks ------------------------------------------------------------------

    def _part_begin(self) -> None:
        self._headers = {}
        self._name = None
        self._value = bytearray()

    def _header_field_data(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header_field.decode("latin-1").strip().lower()] = self._header_value.decode(
            "latin-1"
        ).strip()
        self._header_field = bytearray()
        self._header_value = bytearray()

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get("content-disposition", ""))
        name = options.get(b"name")
        if name is None:
            raise InvalidInput("multipart part without a name")
        self._name = name.decode("utf-8", "replace")
        if self._name == FILE_FIELD:
            if self._file_seen:
                raise InvalidInput("one `file` part per upload")
            self._file_seen = self._in_file = True
            raw = options.get(b"filename")
            self.filename = raw.decode("utf-8", "replace") if raw else None
            self.content_type = self._headers.get("content-type")
        elif len(self.fields) >= MAX_FIELDS:
            raise InvalidInput(f"more than {MAX_FIELDS} form fields")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            if end > start:
                self._file_data.append(data[start:end])
            return
        self._value += data[start:end]
        if len(self._value) > MAX_FIELD_BYTES:
            raise InvalidInput(f"form field {self._name!r} longer than {MAX_FIELD_BYTES} bytes")

    def _part_end(self) -> None:
        if self._in_file:
            self._in_file, self._file_done = False, True
            return
        try:
            self.fields[self._name or ""] = self._value.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(f"form field {self._name!r} is not UTF-8 text") from None

    def _end(self) -> None:
        self._ended = True
