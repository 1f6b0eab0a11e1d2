"""View state kept in the URL, so that a copied link opens the same view: the traces list's filters,
sort and page, and the Cypher console's query. Pure: query string ↔ value objects."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from urllib.parse import parse_qs, urlencode

PAGE_SIZES = (10, 25, 50, 100)
DEFAULT_PAGE_SIZE = 25
NAMED_RANGES = ("1h", "24h", "7d", "30d")
SORTABLE = (
    "key",
    "name",
    "user",
    "status",
    "first_at",
    "last_at",
    "files",
    "dropped",
    "unconverted",
    "data",
    "outputs",
)


def query_of(search: str | None) -> dict[str, str]:
    """?a=1&b=2 → {"a": "1", "b": "2"}; the last value wins, blanks are kept out."""
    return {k: v[-1] for k, v in parse_qs((search or "").lstrip("?")).items() if v and v[-1] != ""}


def search_of(params: dict[str, str]) -> str:
    """{"a": "1"} → "?a=1"; "" when there is nothing to say."""
    kept = {k: v for k, v in params.items() if v not in ("", None)}
    return "?" + urlencode(kept) if kept else ""


@dataclass(frozen=True)
class TracesView:
    """What the traces list shows: filters, time window, sort (within the page) and which page."""

    q: str = ""
    user: str = ""
    status: str = ""  # "", "open", "ended", "idle-ended"
    has_drops: str = ""  # "", "true", "false"
    range: str = ""  # "", one of NAMED_RANGES, or "custom" (since/until apply)
    since: str = ""
    until: str = ""
    limit: int = DEFAULT_PAGE_SIZE
    sort: str = ""  # a column of SORTABLE; "" = the API's order
    desc: bool = False
    cursor: str = ""  # the current page's cursor; "" = the first page
    page: int = 1

    @classmethod
    def from_search(cls, search: str | None) -> TracesView:
        """Tolerant: a value that makes no sense falls back to the default instead of failing the page."""
        query = query_of(search)
        limit = int(query["limit"]) if query.get("limit", "").isdigit() else DEFAULT_PAGE_SIZE
        page = int(query["page"]) if query.get("page", "").isdigit() else 1
        time_range = query.get("range", "")
        if time_range not in (*NAMED_RANGES, "custom"):
            time_range = ""
        if not time_range and (query.get("since") or query.get("until")):
            time_range = "custom"  # a link that gives times means them
        cursor = query.get("cursor", "")
        return cls(
            q=query.get("q", ""),
            user=query.get("user", ""),
            status=query.get("status", "") if query.get("status") in ("open", "ended", "idle-ended") else "",
            has_drops=query.get("has_drops", "") if query.get("has_drops") in ("true", "false") else "",
            range=time_range,
            since=query.get("since", "") if time_range == "custom" else "",
            until=query.get("until", "") if time_range == "custom" else "",
            limit=limit if limit in PAGE_SIZES else DEFAULT_PAGE_SIZE,
            sort=query.get("sort", "") if query.get("sort") in SORTABLE else "",
            desc=query.get("dir") == "desc",
            cursor=cursor,
            page=max(page, 2) if cursor else 1,
        )

    def search(self) -> str:
        """The query string of this view; defaults are left out, so the plain list is just "/"."""
        params = {
            "q": self.q,
            "user": self.user,
            "status": self.status,
            "has_drops": self.has_drops,
            "range": self.range if self.range != "custom" or self.since or self.until else "",
            "since": self.since if self.range == "custom" else "",
            "until": self.until if self.range == "custom" else "",
            "limit": str(self.limit) if self.limit != DEFAULT_PAGE_SIZE else "",
            "sort": self.sort,
            "dir": "desc" if self.sort and self.desc else "",
            "cursor": self.cursor,
            "page": str(self.page) if self.cursor and self.page > 1 else "",
        }
        return search_of(params)

    def filtered(self) -> bool:
        return bool(self.q or self.user or self.status or self.has_drops or self.range)

    def first_page(self) -> TracesView:
        return replace(self, cursor="", page=1)

    def sorted_by(self, column: str) -> TracesView:
        """A click on a column header: sort by it ascending; a second click, descending; a third, unsorted."""
        if self.sort != column:
            return replace(self, sort=column, desc=column in ("first_at", "last_at", *_COUNTS))
        if self.desc == (column in ("first_at", "last_at", *_COUNTS)):
            return replace(self, desc=not self.desc)
        return replace(self, sort="", desc=False)

    def as_dict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, object] | None) -> TracesView:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in known})  # type: ignore[arg-type]


_COUNTS = ("files", "dropped", "unconverted", "data", "outputs")


def query_page_search(cypher: str) -> str:
    return search_of({"q": cypher})
