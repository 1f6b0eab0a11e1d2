"""The user Cypher sandbox: a parser of the read-only subset of openCypher, shared by every adapter.

A user query is accepted only if it parses as read clauses (MATCH, OPTIONAL MATCH, WHERE, WITH, UNWIND,
RETURN, ORDER BY, SKIP, LIMIT, UNION) calling only the functions of ALLOWED_FUNCTIONS, within bounded
length and nesting. Anything outside that grammar (writes, CALL, LOAD, file readers, settings, any function
not on the list) is rejected before it reaches an engine. Parameters must be JSON scalars, or lists and maps
of them whose elements share one type. Rejections raise QueryRejected.

Written by hand rather than generated with ANTLR: the Python ANTLR runtime took 4 s on a 14 KB query and
overflowed the Python stack at 100 nested parentheses (measured with the grammars-v4 Cypher grammar), and
this parser only needs to recognise the subset it allows; it runs in linear time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from graph.base import QueryRejected
from graph.query_params import check_params

MAX_QUERY_CHARS = 20_000
MAX_NESTING = 40  # brackets, prefix operators and sub-expressions inside one another
MAX_EXPRESSION_DEPTH = 256  # operator chains as well: the depth of the engine's expression tree

ALLOWED_FUNCTIONS = frozenset(
    {
        # aggregation
        "count", "sum", "avg", "min", "max", "collect",
        # graph elements
        "labels", "label", "type", "keys", "properties", "id", "nodes", "rels", "relationships",
        "startnode", "endnode", "length",
        # lists
        "size", "head", "last", "tail", "range", "reverse", "coalesce", "list_contains",
        # numbers
        "abs", "ceil", "floor", "round", "sqrt", "sign", "exp", "log", "log10", "pi",
        "tointeger", "tofloat", "toboolean", "tostring",
        # text
        "lower", "upper", "tolower", "toupper", "trim", "ltrim", "rtrim", "left", "right", "substring",
        "replace", "split", "starts_with", "ends_with", "contains", "concat",
    }
)  # fmt: skip

READ_CLAUSES = "MATCH, OPTIONAL MATCH, WHERE, WITH, UNWIND, RETURN, ORDER BY, SKIP, LIMIT and UNION"

_TOKEN = re.compile(
    r"""(?P<ws>\s+|//[^\n]*|/\*.*?\*/)
      |(?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      |(?P<quoted>`(?:[^`]|``)*`)
      |(?P<number>0[xX][0-9a-fA-F]+|(?:\d+\.\d+|\d+|\.\d+)(?:[eE][+-]?\d+)?)
      |(?P<param>\$(?:[A-Za-z_]\w*|\d+))
      |(?P<name>[^\W\d]\w*)
      |(?P<op><>|<=|>=|=~|\.\.|[-+*/%^=<>(){}\[\],.:|;])
    """,
    re.VERBOSE | re.DOTALL,
)


@dataclass(frozen=True)
class Token:
    kind: str  # string, quoted, number, param, name, op, end
    text: str
    pos: int

    @property
    def word(self) -> str:
        return self.text.upper() if self.kind == "name" else ""


def tokens(cypher: str) -> list[Token]:
    out: list[Token] = []
    pos, depth = 0, 0
    while pos < len(cypher):
        m = _TOKEN.match(cypher, pos)
        if m is None:
            raise QueryRejected(f"unexpected character {cypher[pos]!r} ({_where(cypher, pos)})")
        kind = m.lastgroup or ""
        if kind != "ws":
            text = m.group()
            if text in ("(", "[", "{"):
                depth += 1
                if depth > MAX_NESTING:
                    raise QueryRejected(f"nested more than {MAX_NESTING} levels deep ({_where(cypher, pos)})")
            elif text in (")", "]", "}"):
                depth -= 1
            out.append(Token(kind, text, pos))
        pos = m.end()
    out.append(Token("end", "", len(cypher)))
    return out


def _where(cypher: str, pos: int) -> str:
    line = cypher.count("\n", 0, pos) + 1
    column = pos - (cypher.rfind("\n", 0, pos) + 1) + 1
    return f"line {line}, column {column}"


def check_query(cypher: str, params: dict[str, Any]) -> None:
    """Raise QueryRejected unless the query is a read-only query of the sandbox and its params are plain."""
    if len(cypher) > MAX_QUERY_CHARS:
        raise QueryRejected(f"query longer than {MAX_QUERY_CHARS} characters")
    _Parser(cypher).query()
    check_params(params)


class _Parser:
    """Recursive descent over the tokens; each method consumes one construct of the grammar."""

    def __init__(self, cypher: str) -> None:
        self.cypher = cypher
        self.toks = tokens(cypher)
        self.i = 0
        self.nesting = 0

    # -- tokens ---------------------------------------------------------------------------

    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def peek(self, ahead: int = 1) -> Token:
        return self.toks[min(self.i + ahead, len(self.toks) - 1)]

    def fail(self, message: str, tok: Token | None = None) -> QueryRejected:
        t = tok or self.tok
        return QueryRejected(f"{message} ({_where(self.cypher, t.pos)})")

    def expected(self, what: str) -> QueryRejected:
        found = "the end of the query" if self.tok.kind == "end" else repr(self.tok.text)
        return self.fail(f"expected {what}, found {found}")

    def at(self, *texts: str) -> bool:
        t = self.tok
        return (t.kind == "op" and t.text in texts) or (t.kind == "name" and t.word in texts)

    def take(self, *texts: str) -> bool:
        if self.at(*texts):
            self.i += 1
            return True
        return False

    def need(self, text: str) -> None:
        if not self.take(text):
            raise self.expected(repr(text))

    def name(self, what: str = "a name") -> str:
        t = self.tok
        if t.kind not in ("name", "quoted"):
            raise self.expected(what)
        self.i += 1
        return t.text

    def enter(self) -> None:
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise self.fail(f"nested more than {MAX_NESTING} levels deep")

    # -- clauses ----------------------------------------------------------------------------

    def query(self) -> None:
        self.single_query()
        while self.take("UNION"):
            self.take("ALL")
            self.single_query()
        if self.take(";") and self.tok.kind != "end":
            raise self.fail("only one statement per query")
        if self.tok.kind != "end":
            if self.at("MATCH", "OPTIONAL", "UNWIND", "WITH", "RETURN"):
                raise self.fail("RETURN ends a query (or a part of a UNION)")
            raise self.clause_error()

    def clause_error(self) -> QueryRejected:
        if self.tok.kind == "name":
            return self.fail(f"read-only queries only: '{self.tok.word}' is not allowed (allowed: {READ_CLAUSES})")
        return self.expected("a clause")

    def single_query(self) -> None:
        while True:
            if self.take("MATCH"):
                self.match()
            elif self.take("OPTIONAL"):
                self.need("MATCH")
                self.match()
            elif self.take("UNWIND"):
                self.expression()
                self.need("AS")
                self.name("a variable")
            elif self.take("WITH"):
                self.projection()
                if self.take("WHERE"):
                    self.expression()
            elif self.take("RETURN"):
                self.projection()
                return
            else:
                raise self.clause_error()

    def match(self) -> None:
        self.pattern()
        while self.take(","):
            self.pattern()
        if self.take("WHERE"):
            self.expression()

    def projection(self) -> None:
        self.take("DISTINCT")
        if not self.take("*"):
            self.projection_item()
        while self.take(","):
            self.projection_item()
        if self.take("ORDER"):
            self.need("BY")
            while True:
                self.expression()
                self.take("ASC", "ASCENDING", "DESC", "DESCENDING")
                if not self.take(","):
                    break
        if self.take("SKIP"):
            self.expression()
        if self.take("LIMIT"):
            self.expression()

    def projection_item(self) -> None:
        self.expression()
        if self.take("AS"):
            self.name("an alias")

    # -- patterns ---------------------------------------------------------------------------

    def pattern(self) -> None:
        if self.tok.kind in ("name", "quoted") and self.peek().text == "=":
            self.i += 2
        self.node_pattern()
        while self.at("-", "<"):
            self.relationship_pattern()
            self.node_pattern()

    def node_pattern(self) -> None:
        self.need("(")
        if self.tok.kind in ("name", "quoted"):
            self.i += 1
        self.labels()
        self.properties()
        self.need(")")

    def labels(self) -> None:
        if self.take(":"):
            self.name("a label")
            while self.take("|"):
                self.take(":")
                self.name("a label")

    def properties(self) -> None:
        if self.at("{"):
            self.map_literal()
        elif self.tok.kind == "param":
            self.i += 1

    def relationship_pattern(self) -> None:
        left = self.take("<")
        self.need("-")
        if self.take("["):
            if self.tok.kind in ("name", "quoted"):
                self.i += 1
            self.labels()
            if self.take("*"):
                if self.tok.kind == "number":
                    self.i += 1
                if self.take(".."):
                    if self.tok.kind == "number":
                        self.i += 1
            self.properties()
            self.need("]")
        self.need("-")
        if self.take(">") and left:
            raise self.fail("a relationship points one way or none")

    # -- expressions (precedence climbing) ----------------------------------------------------

    _BINARY = (
        ("OR",),
        ("XOR",),
        ("AND",),
        ("=", "<>", "<", ">", "<=", ">=", "=~"),
        ("+", "-"),
        ("*", "/", "%"),
        ("^",),
    )

    def expression(self) -> int:
        self.enter()
        try:
            return self.binary(0)
        finally:
            self.nesting -= 1

    def binary(self, level: int) -> int:
        """Returns the depth of the expression tree it read, bounded by MAX_EXPRESSION_DEPTH."""
        if level == len(self._BINARY):
            return self.unary()
        if level == 3 and self.take("NOT"):  # NOT binds looser than comparison, tighter than AND
            self.enter()
            try:
                return self.binary(level) + 1
            finally:
                self.nesting -= 1
        depth = self.predicate() if level == 3 else self.binary(level + 1)
        while self.at(*self._BINARY[level]):
            self.i += 1
            right = self.predicate() if level == 3 else self.binary(level + 1)
            depth = max(depth, right) + 1
            if depth > MAX_EXPRESSION_DEPTH:
                raise self.fail(f"expression deeper than {MAX_EXPRESSION_DEPTH} operators")
        return depth

    def predicate(self) -> int:
        """An additive expression followed by the string, list and null predicates."""
        depth = self.binary(4)
        while True:
            if self.take("IS"):
                self.take("NOT")
                self.need("NULL")
            elif self.take("STARTS", "ENDS"):
                self.need("WITH")
                depth = max(depth, self.binary(4))
            elif self.take("CONTAINS", "IN"):
                depth = max(depth, self.binary(4))
            else:
                return depth
            depth += 1

    def unary(self) -> int:
        if self.take("-", "+"):
            self.enter()
            try:
                return self.unary() + 1
            finally:
                self.nesting -= 1
        depth = self.atom()
        while True:
            if self.take("."):
                self.name("a property name")
            elif self.take("["):
                if not self.at(".."):
                    depth = max(depth, self.expression())
                if self.take(".."):
                    if not self.at("]"):
                        depth = max(depth, self.expression())
                self.need("]")
            elif self.at(":") and self.peek().kind in ("name", "quoted"):
                self.labels()
            else:
                return depth + 1

    def atom(self) -> int:
        t = self.tok
        if t.kind in ("number", "string", "param"):
            self.i += 1
            return 1
        if self.at("("):
            self.i += 1
            depth = self.expression()
            self.need(")")
            return depth
        if self.at("["):
            return self.list_expression()
        if self.at("{"):
            return self.map_literal()
        if t.kind == "quoted":
            self.i += 1
            return 1
        if t.kind != "name":
            raise self.expected("an expression")
        word = t.word
        if word in ("TRUE", "FALSE", "NULL"):
            self.i += 1
            return 1
        if word == "CASE":
            return self.case()
        if self.peek().text == "(":
            return self.call()
        ahead = 1
        while self.peek(ahead).text == "." and self.peek(ahead + 1).kind == "name":
            ahead += 2
        if ahead > 1 and self.peek(ahead).text == "(":
            dotted = "".join(self.peek(k).text for k in range(ahead))
            raise self.fail(f"procedures and namespaced functions are not allowed ({dotted})")
        if word in _RESERVED:
            raise self.expected("an expression")
        self.i += 1
        return 1

    def call(self) -> int:
        t = self.tok
        name = t.text.lower()
        self.i += 2  # name (
        if name in ("all", "any", "none", "single"):  # quantifiers: all(x IN list WHERE predicate)
            depth = self.comprehension_body(projection=False)
        elif name not in ALLOWED_FUNCTIONS:
            raise self.fail(f"function {t.text}() is not allowed: user queries may call only {_FUNCTION_LIST}", t)
        elif name == "count" and self.take("*"):
            depth = 1
        else:
            self.take("DISTINCT")
            depth = 1
            if not self.at(")"):
                depth = self.expression()
                while self.take(","):
                    depth = max(depth, self.expression())
        self.need(")")
        return depth + 1

    def list_expression(self) -> int:
        self.need("[")
        if self.tok.kind in ("name", "quoted") and self.peek().word == "IN":
            depth = self.comprehension_body(projection=True)
        else:
            depth = 1
            if not self.at("]"):
                depth = self.expression()
                while self.take(","):
                    depth = max(depth, self.expression())
        self.need("]")
        return depth + 1

    def comprehension_body(self, projection: bool) -> int:
        self.name("a variable")
        self.need("IN")
        depth = self.expression()
        if self.take("WHERE"):
            depth = max(depth, self.expression())
        if projection and self.take("|"):
            depth = max(depth, self.expression())
        return depth

    def map_literal(self) -> int:
        self.need("{")
        depth = 1
        if not self.at("}"):
            while True:
                self.name("a key")
                self.need(":")
                depth = max(depth, self.expression())
                if not self.take(","):
                    break
        self.need("}")
        return depth + 1

    def case(self) -> int:
        self.i += 1
        depth = 1
        if not self.at("WHEN"):
            depth = self.expression()
        if not self.at("WHEN"):
            raise self.expected("WHEN")
        while self.take("WHEN"):
            depth = max(depth, self.expression())
            self.need("THEN")
            depth = max(depth, self.expression())
        if self.take("ELSE"):
            depth = max(depth, self.expression())
        self.need("END")
        return depth + 1


_RESERVED = frozenset(
    "MATCH OPTIONAL WHERE WITH UNWIND RETURN ORDER BY SKIP LIMIT UNION AS DISTINCT AND OR XOR NOT IN IS STARTS ENDS "
    "CONTAINS WHEN THEN ELSE END CALL CREATE MERGE SET DELETE DETACH REMOVE LOAD COPY".split()
)
_FUNCTION_LIST = ", ".join(sorted(ALLOWED_FUNCTIONS))
