"""Tokens → ODSQL syntax tree, by precedence climbing; one entry point per clause."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from mutuelle.core.errors import QueryError
from mutuelle.query.odsql import ast
from mutuelle.query.odsql.functions import (
    ADJACENT_UNITS,
    DISTANCE_UNITS,
    DURATION_UNITS,
    FUNCTIONS,
    GEOMETRY_MODES,
)
from mutuelle.query.odsql.lexer import (
    EOF,
    IDENT,
    NUMBER,
    QIDENT,
    STRING,
    TYPED,
    Token,
    tokenize,
)

#: Deepest nesting of parentheses, ``not`` and unary minus accepted while parsing.
MAX_NESTING = 100
#: Deepest expression tree accepted (redundant parentheses do not count).
MAX_TREE_DEPTH = 40
#: Most items in one ``in (...)`` list.
MAX_IN_ITEMS = 1000
#: Most items in one select, group_by or order_by clause.
MAX_ITEMS = 200
#: Largest integer kept exact; bigger literals become floating point numbers.
MAX_EXACT_INT = 2**53

KEYWORDS = frozenset({
    "and", "or", "not", "in", "like", "is", "null", "true", "false", "as", "asc", "desc",
    "distinct",
})
_COMPARISONS = ("=", "!=", "<>", "<", "<=", ">", ">=", ":")

# Binding powers: or < and < not < predicates < + - < * / < unary minus.
_OR, _AND, _NOT, _PREDICATE, _SUM, _PRODUCT, _UNARY = 1, 2, 3, 4, 5, 6, 7


class Parser:
    """A cursor over the tokens of one clause."""

    def __init__(self, text: str, clause: str) -> None:
        self.text = text
        self.clause = clause
        self.tokens = tokenize(text, clause)
        self.i = 0
        self.nesting = 0

    # -- cursor -------------------------------------------------------------------------
    def peek(self, ahead: int = 0) -> Token:
        """The token ``ahead`` places from the cursor (EOF past the end)."""
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        """Consume and return the current token."""
        tok = self.tokens[self.i]
        if tok.kind != EOF:
            self.i += 1
        return tok

    @property
    def last_end(self) -> int:
        """Where the last consumed token ends."""
        return self.tokens[self.i - 1].end if self.i else 0

    def error(self, message: str, tok: Token | None = None) -> QueryError:
        """A QueryError at the given (default: current) token."""
        return QueryError(message, clause=self.clause, position=(tok or self.peek()).pos)

    def expect_op(self, op: str) -> Token:
        """Consume the operator ``op`` or fail."""
        tok = self.peek()
        if not tok.is_op(op):
            raise self.error(f"expected '{op}' but found {_describe(tok)}")
        return self.advance()

    def expect_end(self) -> None:
        """Fail unless every token was consumed."""
        tok = self.peek()
        if tok.kind != EOF:
            raise self.error(f"unexpected {_describe(tok)}")

    # -- expressions --------------------------------------------------------------------
    def expression(self, min_power: int = 0) -> ast.Node:
        """An expression whose operators bind at least as tightly as ``min_power``."""
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise self.error(f"expression nested deeper than {MAX_NESTING} levels")
        left = self.prefix()
        while True:
            tok = self.peek()
            if tok.is_word("or") and min_power <= _OR:
                self.advance()
                left = _merge("or", left, self.expression(_OR + 1), tok.pos)
            elif tok.is_word("and") and min_power <= _AND:
                self.advance()
                left = _merge("and", left, self.expression(_AND + 1), tok.pos)
            elif min_power <= _PREDICATE and self.at_predicate():
                left = self.predicate(left)
                if self.at_predicate():
                    raise self.error("comparisons cannot be chained; use 'and'")
            elif tok.is_op("+", "-") and min_power <= _SUM:
                self.advance()
                left = ast.Binary(tok.value, left, self.expression(_SUM + 1), tok.pos)
            elif tok.is_op("*", "/") and min_power <= _PRODUCT:
                self.advance()
                left = ast.Binary(tok.value, left, self.expression(_PRODUCT + 1), tok.pos)
            else:
                break
        self.nesting -= 1
        return left

    def prefix(self) -> ast.Node:
        """A primary expression, possibly behind ``not`` or a unary minus."""
        tok = self.peek()
        if tok.is_word("not"):
            self.advance()
            return ast.Unary("not", self.expression(_NOT), tok.pos)
        if tok.is_op("-"):
            self.advance()
            operand = self.expression(_UNARY)
            if isinstance(operand, ast.Number):
                return ast.Number(-operand.value, tok.pos)
            if isinstance(operand, ast.Quantity):
                return ast.Quantity(-operand.value, operand.unit, tok.pos)
            return ast.Unary("-", operand, tok.pos)
        if tok.is_op("+") and self.peek(1).kind == NUMBER:  # now(mondays=+1)
            self.advance()
            operand = self.primary()
            return replace(operand, pos=tok.pos)
        return self.primary()

    def primary(self) -> ast.Node:
        """A literal, a field, a function call or a parenthesised expression."""
        tok = self.advance()
        if tok.kind == NUMBER:
            return self.number(tok)
        if tok.kind == STRING:
            return ast.String(tok.value, tok.pos)
        if tok.kind == TYPED:
            if tok.prefix == "date":
                return ast.DateLit(tok.value, tok.pos)
            return ast.GeomLit(tok.value, tok.pos)
        if tok.kind == QIDENT:
            return ast.Field(tok.value, tok.pos)
        if tok.kind == IDENT:
            word = tok.value.lower()
            if word in ("true", "false"):
                return ast.Boolean(word == "true", tok.pos)
            if self.peek().is_op("("):
                return self.call(tok)
            if word in KEYWORDS:
                raise self.error(f"unexpected keyword '{tok.value}' (back-quote field names "
                                 "that are keywords)", tok)
            return ast.Field(tok.value, tok.pos)
        if tok.is_op("("):
            inner = self.expression()
            self.expect_op(")")
            return inner
        raise self.error(f"unexpected {_describe(tok)}", tok)

    def number(self, tok: Token) -> ast.Node:
        """A numeric literal, or a quantity when a unit follows (``1km``, ``2 days``)."""
        text = tok.value
        value: int | float
        if text.isdigit() and int(text) <= MAX_EXACT_INT:
            value = int(text)
        else:
            value = float(text)
            if value in (float("inf"), float("-inf")):
                raise self.error("number out of range", tok)
        nxt = self.peek()
        if nxt.kind == IDENT and not self.peek(1).is_op("("):
            unit = nxt.value if nxt.value == "M" else nxt.value.lower()  # M: month, m: minute
            if unit in ADJACENT_UNITS and nxt.pos != tok.end:
                return ast.Number(value, tok.pos)
            if unit in DISTANCE_UNITS or unit in DURATION_UNITS:
                self.advance()
                return ast.Quantity(value, unit, tok.pos)
        return ast.Number(value, tok.pos)

    def call(self, name_tok: Token) -> ast.Node:
        """``name(args)``; only functions of ``functions.FUNCTIONS`` are accepted."""
        name = name_tok.value.lower()
        if name in ("include", "exclude"):
            raise self.error(f"{name}() is only allowed as a select item", name_tok)
        spec = FUNCTIONS.get(name)
        if spec is None:
            raise self.error(f"unknown function '{name_tok.value}'", name_tok)
        self.expect_op("(")
        distinct = False
        if self.peek().is_word("distinct"):
            if name != "count":
                raise self.error("'distinct' is only allowed in count()")
            self.advance()
            distinct = True
        args: list[ast.Node] = []
        keywords: list[ast.Keyword] = []
        if not self.peek().is_op(")"):
            while True:
                tok = self.peek()
                if spec.keywords and tok.kind == IDENT and self.peek(1).is_op("="):
                    keywords.append(self.keyword(name, spec.keywords))
                elif keywords:
                    raise self.error("positional arguments come before name=value ones")
                elif tok.is_op("*") and self.peek(1).is_op(",", ")"):
                    self.advance()
                    args.append(ast.Star(tok.pos))
                else:
                    args.append(self.expression())
                if len(args) + len(keywords) > MAX_IN_ITEMS:
                    raise self.error(f"more than {MAX_IN_ITEMS} arguments")
                if not self.peek().is_op(","):
                    break
                self.advance()
        self.expect_op(")")
        if len(args) < spec.min_args or (spec.max_args is not None and len(args) > spec.max_args):
            expected = (str(spec.min_args) if spec.min_args == spec.max_args
                        else f"{spec.min_args} to {spec.max_args}" if spec.max_args is not None
                        else f"at least {spec.min_args}")
            raise self.error(f"{name}() takes {expected} argument(s), not {len(args)}", name_tok)
        call = ast.Call(name, tuple(args), distinct, name_tok.pos, tuple(keywords))
        legacy = _LEGACY.get(name)
        return call if legacy is None else legacy(self, call)

    def keyword(self, function: str, accepted: frozenset[str]) -> ast.Keyword:
        """A ``name=value`` argument (only the names the function accepts)."""
        tok = self.advance()
        name = tok.value.lower()
        if name not in accepted:
            raise self.error(f"{function}() has no argument named '{tok.value}'; it takes "
                             f"{', '.join(sorted(accepted))}", tok)
        self.advance()  # "="
        return ast.Keyword(name, self.expression(_SUM), tok.pos)

    # -- legacy forms (Opendatasoft's v2.0 names, still accepted in v2.1) ----------------
    def legacy_distance(self, call: ast.Call) -> ast.Call:
        """``distance(geo, geom'POINT(...)', 1km)`` is ``within_distance``; with two
        arguments, ``distance`` is the distance in metres."""
        if len(call.args) == 3:
            return replace(call, name="within_distance")
        return call

    def legacy_geometry(self, call: ast.Call) -> ast.Call:
        """``geometry(geo, geom'...'[, INTERSECTS|WITHIN|DISJOINT])``: the predicate named by
        its mode (intersects when none is given)."""
        if len(call.args) == 2:
            return replace(call, name="intersects")
        mode = call.args[2]
        predicate = GEOMETRY_MODES.get(mode.name.lower()) if isinstance(mode, ast.Field) \
            else None
        if predicate is None:
            raise QueryError("geometry() mode must be INTERSECTS, WITHIN or DISJOINT",
                             clause=self.clause, position=mode.pos)
        return replace(call, name=predicate, args=call.args[:2])

    # -- predicates ---------------------------------------------------------------------
    def at_predicate(self) -> bool:
        """Whether the current token starts a comparison, in, like or is."""
        tok = self.peek()
        if tok.is_op(*_COMPARISONS) or tok.is_word("in", "like", "is"):
            return True
        return tok.is_word("not") and self.peek(1).is_word("in", "like")

    def predicate(self, left: ast.Node) -> ast.Node:
        """The comparison, in, like or is applied to ``left``."""
        tok = self.advance()
        if tok.is_op(*_COMPARISONS):
            op = "!=" if tok.value == "<>" else tok.value
            return ast.Binary(op, left, self.expression(_SUM), tok.pos)
        negated = tok.is_word("not")
        if negated:
            tok = self.advance()
        if tok.is_word("like"):
            pattern = self.advance()
            if pattern.kind != STRING:
                raise self.error("like needs a quoted pattern", pattern)
            return ast.Like(left, pattern.value, negated, tok.pos)
        if tok.is_word("in"):
            return self.in_operand(left, negated, tok)
        return self.is_operand(left, tok)

    def in_operand(self, left: ast.Node, negated: bool, in_tok: Token) -> ast.Node:
        """``in (a, b)`` or ``in [a..b]`` with ``[``/``]`` ends."""
        opener = self.advance()
        if opener.is_op("("):
            items: list[ast.Node] = []
            while True:
                items.append(self.expression(_SUM))
                if len(items) > MAX_IN_ITEMS:
                    raise self.error(f"more than {MAX_IN_ITEMS} items in an in list")
                if not self.peek().is_op(","):
                    break
                self.advance()
            self.expect_op(")")
            return ast.InList(left, tuple(items), negated, in_tok.pos)
        if not opener.is_op("[", "]"):
            raise self.error("in needs a list '(a, b)' or a range '[a..b]'", opener)
        low = self.range_bound()
        self.expect_op("..")
        high = self.range_bound()
        closer = self.advance()
        if not closer.is_op("[", "]"):
            raise self.error("a range ends with ']' (inclusive) or '[' (exclusive)", closer)
        return ast.InRange(left, low, high, opener.value == "[", closer.value == "]",
                           negated, in_tok.pos)

    def range_bound(self) -> ast.Node | None:
        """One end of an in range; ``*`` means unbounded."""
        if self.peek().is_op("*"):
            self.advance()
            return None
        return self.expression(_SUM)

    def is_operand(self, left: ast.Node, is_tok: Token) -> ast.Node:
        """``is [not] null|true|false``."""
        negated = False
        if self.peek().is_word("not"):
            self.advance()
            negated = True
        tok = self.advance()
        values = {"null": None, "true": True, "false": False}
        if tok.kind != IDENT or tok.value.lower() not in values:
            raise self.error("expected null, true or false after 'is'", tok)
        return ast.Is(left, values[tok.value.lower()], negated, is_tok.pos)

    # -- clause items -------------------------------------------------------------------
    def item_list(self, parse_item: Callable[[], object]) -> list[object]:
        """Comma-separated items up to the end of the clause."""
        if self.peek().kind == EOF:
            raise self.error("empty clause")
        items: list[object] = []
        while True:
            items.append(parse_item())
            if len(items) > MAX_ITEMS:
                raise self.error(f"more than {MAX_ITEMS} items")
            if not self.peek().is_op(","):
                break
            self.advance()
        self.expect_end()
        return items

    def aliased_item(self) -> ast.SelectItem:
        """``expr [as alias]`` (or ``*`` alone)."""
        start = self.peek()
        if start.is_op("*") and (self.peek(1).is_op(",") or self.peek(1).kind == EOF):
            self.advance()
            return ast.SelectItem(ast.Star(start.pos), None, "*", start.pos)
        expr = self.expression()
        check_depth(expr, self.clause)
        text = self.text[start.pos:self.last_end].strip()
        alias = None
        if self.peek().is_word("as"):
            self.advance()
            tok = self.advance()
            if tok.kind not in (IDENT, QIDENT) or (tok.kind == IDENT and tok.value.lower()
                                                     in KEYWORDS):
                raise self.error("expected an alias name after 'as'", tok)
            alias = tok.value
        return ast.SelectItem(expr, alias, text, start.pos)

    def select_item(self) -> ast.SelectItem | ast.FieldPattern:
        """A select item: an aliased expression, ``include(pat)`` or ``exclude(pat)``."""
        tok = self.peek()
        if tok.is_word("include", "exclude") and self.peek(1).is_op("("):
            self.advance()
            lparen = self.advance()
            first = self.i
            while not self.peek().is_op(")"):
                if self.peek().kind == EOF or self.peek().is_op("(", ","):
                    raise self.error(f"{tok.value.lower()}() takes one field pattern")
                self.advance()
            rparen = self.advance()
            inner = self.tokens[first:self.i - 1]
            if len(inner) == 1 and inner[0].kind in (QIDENT, STRING):
                pattern = inner[0].value
            else:
                pattern = self.text[lparen.end:rparen.pos].strip()
            if not pattern:
                raise self.error("empty field pattern", lparen)
            return ast.FieldPattern(tok.value.lower() == "include", pattern, tok.pos)
        return self.aliased_item()

    def order_item(self) -> ast.OrderItem:
        """``expr [asc|desc]``."""
        start = self.peek()
        expr = self.expression()
        check_depth(expr, self.clause)
        text = self.text[start.pos:self.last_end].strip()
        descending = False
        if self.peek().is_word("asc", "desc"):
            descending = self.advance().value.lower() == "desc"
        return ast.OrderItem(expr, descending, text, start.pos)


#: Calls rewritten as they are read: old names of Opendatasoft's v2.0 kept by v2.1.
_LEGACY: dict[str, Callable[[Parser, ast.Call], ast.Call]] = {
    "distance": Parser.legacy_distance,
    "geometry": Parser.legacy_geometry,
}


def check_depth(node: ast.Node, clause: str) -> None:
    """Refuse trees deeper than MAX_TREE_DEPTH (walked without recursion)."""
    stack: list[tuple[ast.Node, int]] = [(node, 1)]
    while stack:
        current, depth = stack.pop()
        if depth > MAX_TREE_DEPTH:
            raise QueryError(f"expression nested deeper than {MAX_TREE_DEPTH} levels",
                             clause=clause, position=current.pos)
        stack.extend((child, depth + 1) for child in ast.children(current))


def _merge(op: str, left: ast.Node, right: ast.Node, pos: int) -> ast.Node:
    """``left op right``, flattening chains of the same boolean operator."""
    if isinstance(left, ast.BoolOp) and left.op == op:
        return ast.BoolOp(op, (*left.operands, right), left.pos)
    return ast.BoolOp(op, (left, right), pos)


def _describe(tok: Token) -> str:
    if tok.kind == EOF:
        return "end of text"
    if tok.kind == STRING:
        return "a string"
    return f"'{tok.value}'"


def parse_where(text: str, clause: str = "where") -> ast.Node:
    """Parse one where clause (also used for refine-like filters) into a tree."""
    parser = Parser(text, clause)
    if parser.peek().kind == EOF:
        raise parser.error("empty clause")
    node = parser.expression()
    parser.expect_end()
    check_depth(node, clause)
    return node


def parse_select(text: str) -> list[ast.SelectItem | ast.FieldPattern]:
    """Parse a select clause into its items."""
    parser = Parser(text, "select")
    return [item for item in parser.item_list(parser.select_item)
            if isinstance(item, (ast.SelectItem, ast.FieldPattern))]


def parse_group_by(text: str) -> list[ast.SelectItem]:
    """Parse a group_by clause into its items (expression and optional alias)."""
    parser = Parser(text, "group_by")
    return [item for item in parser.item_list(parser.aliased_item)
            if isinstance(item, ast.SelectItem)]


def parse_order_by(text: str) -> list[ast.OrderItem]:
    """Parse an order_by clause into its items."""
    parser = Parser(text, "order_by")
    return [item for item in parser.item_list(parser.order_item)
            if isinstance(item, ast.OrderItem)]
