"""ODSQL conditions: boolean logic, comparisons, in, like, is, and the text filters."""

from __future__ import annotations

from sqlglot import exp

from mutuelle.query.odsql import ast
from mutuelle.query.odsql.functions import When
from mutuelle.query.odsql.typed import (
    BOOLEAN,
    GEOMETRY,
    NUMERIC,
    TEMPORAL,
    TEXT,
    CompilerPart,
    Typed,
    column,
    fn,
    fold,
    paren,
)


class Conditions(CompilerPart):
    """The condition part of ``Compiler``: where clauses, ``search`` and ``startswith``."""

    # -- conditions ---------------------------------------------------------------------
    def condition(self, node: ast.Node) -> exp.Expr:
        """Compile ``node`` where a boolean is expected (a bare string is a search)."""
        if isinstance(node, ast.String):
            return self.search(node.value, None)
        if isinstance(node, ast.BoolOp):
            parts = [self.condition(op) for op in node.operands]
            return exp.and_(*parts) if node.op == "and" else exp.or_(*parts)
        if isinstance(node, ast.Unary) and node.op == "not":
            return exp.Not(this=paren(self.condition(node.operand)))
        if isinstance(node, ast.Binary) and node.op not in "+-*/":
            return self.comparison(node)
        if isinstance(node, ast.InList):
            return self.in_list(node)
        if isinstance(node, ast.InRange):
            return self.in_range(node)
        if isinstance(node, ast.Like):
            return self.like(node)
        if isinstance(node, ast.Is):
            return self.is_(node)
        typed = self.expr(node)
        if typed.type != BOOLEAN:
            raise self.error(f"expected a condition, found a value of type {typed.type}", node)
        return typed.sql

    def comparison(self, node: ast.Binary) -> exp.Expr:
        """``= != < <= > >=`` and ``:`` (a date period prefix when the field is a date)."""
        left = self.expr(node.left)
        if node.op == ":" and left.type in TEMPORAL and isinstance(
                node.right, (ast.String, ast.Number, ast.DateLit)):
            value = node.right
            text = (value.text if isinstance(value, ast.DateLit) else str(value.value)
                    if isinstance(value, ast.Number) else value.value)
            return self.period(left, self.when(text, value))
        if node.op == ":" and isinstance(node.right, ast.Field) \
                and node.right.name not in self.schema and node.right.name not in self.aliases:
            right = Typed(exp.Literal.string(node.right.name), TEXT)  # field:word
        else:
            right = self.literal_for(node.right, left.type)
        self.comparable(left, right, node)
        ops: dict[str, type[exp.Binary]] = {
            "=": exp.EQ, ":": exp.EQ, "!=": exp.NEQ, "<": exp.LT, "<=": exp.LTE, ">": exp.GT,
            ">=": exp.GTE}
        return ops[node.op](this=paren(left.sql), expression=paren(right.sql))

    def comparable(self, left: Typed, right: Typed, node: ast.Node) -> None:
        """Fail unless two values may be compared."""
        same = left.type == right.type or {left.type, right.type} <= NUMERIC \
            or {left.type, right.type} <= TEMPORAL
        if not same or GEOMETRY in (left.type, right.type):
            raise self.error(f"cannot compare {left.type} with {right.type}", node)

    def period(self, typed: Typed, when: When) -> exp.Expr:
        """``typed`` falls in the year, month, day... that ``when`` was written with."""
        start = self.instant(when.start, when.tz, typed.type)
        end = self.instant(when.end(), when.tz, typed.type)
        return exp.and_(exp.GTE(this=typed.sql, expression=start.sql),
                        exp.LT(this=typed.sql.copy(), expression=end.sql))

    def in_list(self, node: ast.InList) -> exp.Expr:
        """``x in (a, b, c)`` with literal items."""
        left = self.expr(node.operand)
        items = []
        for item in node.items:
            if isinstance(item, (ast.Field, ast.Call, ast.Binary, ast.Unary)):
                raise self.error("in lists hold literal values only", item)
            typed = self.literal_for(item, left.type)
            self.comparable(left, typed, item)
            items.append(typed.sql)
        sql: exp.Expr = exp.In(this=paren(left.sql), expressions=items)
        return exp.Not(this=paren(sql)) if node.negated else sql

    def in_range(self, node: ast.InRange) -> exp.Expr:
        """``x in [a..b]``: ``[`` ``]`` include their end, ``]a`` and ``b[`` exclude it."""
        left = self.expr(node.operand)
        parts: list[exp.Expr] = []
        for bound, inclusive, lower in ((node.low, node.low_inclusive, True),
                                        (node.high, node.high_inclusive, False)):
            if bound is None:
                continue
            typed = self.literal_for(bound, left.type)
            self.comparable(left, typed, bound)
            cls = (exp.GTE if inclusive else exp.GT) if lower else \
                (exp.LTE if inclusive else exp.LT)
            parts.append(cls(this=paren(left.sql.copy()), expression=paren(typed.sql)))
        sql = exp.and_(*parts) if parts else exp.Not(this=exp.Is(this=paren(left.sql),
                                                                 expression=exp.Null()))
        return exp.Not(this=paren(sql)) if node.negated else sql

    def like(self, node: ast.Like) -> exp.Expr:
        """``x like "pat*"``: ``*`` is any run of characters; case and accents ignored."""
        left = self.expr(node.operand)
        self.require(left, frozenset({TEXT}), node.operand, "like")
        out, i, pat = [], 0, node.pattern
        while i < len(pat):
            ch = pat[i]
            if ch == "\\" and i + 1 < len(pat) and pat[i + 1] == "*":
                out.append("*")
                i += 2
                continue
            out.append("%" if ch == "*" else "\\" + ch if ch in "%_\\" else ch)
            i += 1
        pattern = fold(exp.Literal.string("".join(out)))
        sql: exp.Expr = exp.Escape(
            this=exp.Like(this=fold(left.sql), expression=pattern),
            expression=exp.Literal.string("\\"))
        return exp.Not(this=paren(sql)) if node.negated else sql

    def is_(self, node: ast.Is) -> exp.Expr:
        """``is [not] null|true|false``."""
        left = self.expr(node.operand)
        if node.value is None:
            value: exp.Expr = exp.Null()
        else:
            self.require(left, frozenset({BOOLEAN}), node.operand,
                         f"is {str(node.value).lower()}")
            value = exp.Boolean(this=node.value)
        sql = exp.Is(this=paren(left.sql), expression=value)
        return exp.Not(this=paren(sql)) if node.negated else sql

    # -- text filters -------------------------------------------------------------------
    def search_call(self, node: ast.Call) -> exp.Expr:
        """``search("text")`` or ``search(field, ..., "text")``."""
        *fields, text = node.args
        if not isinstance(text, ast.String):
            raise self.error("search() ends with a quoted text", text)
        columns = []
        for f in fields:
            typed = self.expr(f)
            self.require(typed, frozenset({TEXT}), f, "search()")
            columns.append(typed.sql)
        return self.search(text.value, columns or None)

    def search(self, text: str, columns: list[exp.Expr] | None) -> exp.Expr:
        """Every word of ``text`` appears in one of the columns (default: all text ones)."""
        if columns is None:
            columns = [column(name) for name, kind in self.schema.items() if kind == TEXT]
        words = text.split()
        if not words:
            return exp.Boolean(this=True)
        if not columns:
            return exp.Boolean(this=False)
        haystack = fold(fn("concat_ws", exp.Literal.string(" "), *columns))
        return exp.and_(*(fn("contains", haystack.copy(), fold(exp.Literal.string(w)))
                          for w in words))

    def startswith(self, node: ast.Call) -> exp.Expr:
        """``startswith(field, "prefix")``, case sensitive."""
        typed = self.expr(node.args[0])
        self.require(typed, frozenset({TEXT}), node.args[0], "startswith()")
        prefix = node.args[1]
        if not isinstance(prefix, ast.String):
            raise self.error("startswith() needs a quoted prefix", prefix)
        return fn("starts_with", typed.sql, exp.Literal.string(prefix.value))
