"""ODSQL conditions: boolean logic, comparisons, in, like, is, and the text filters (whose
matching rules live in ``fulltext``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlglot import exp

from mutuelle.query.odsql import ast
from mutuelle.query.odsql.fulltext import checked, like_terms, match_terms, text_search
from mutuelle.query.odsql.functions import When
from mutuelle.query.odsql.typed import (
    ARITHMETIC,
    BOOLEAN,
    GEOMETRY,
    NUMERIC,
    TEMPORAL,
    TEXT,
    CompilerPart,
    Typed,
    column,
    fn,
    paren,
)


class Conditions(CompilerPart):
    """The condition part of ``Compiler``: where clauses, ``search``, ``suggest``,
    ``startswith``."""

    # -- conditions ---------------------------------------------------------------------
    def condition(self, node: ast.Node) -> exp.Expr:
        """Compile ``node`` where a boolean is expected (a bare string is a search)."""
        handler = _CONDITIONS.get(type(node))
        return handler(self, node) if handler is not None else self.boolean_value(node)

    def boolean_value(self, node: ast.Node) -> exp.Expr:
        """A value used as a condition: it must be a boolean."""
        typed = self.expr(node)
        if typed.type != BOOLEAN:
            raise self.error(f"expected a condition, found a value of type {typed.type}", node)
        return typed.sql

    def bare_search(self, node: ast.String) -> exp.Expr:
        """A string alone: ``search()`` over every text field."""
        return text_search(node.value, self.text_columns(), clause=self.clause,
                           position=node.pos)

    def bool_op(self, node: ast.BoolOp) -> exp.Expr:
        """``and`` / ``or``."""
        parts = [self.condition(op) for op in node.operands]
        return exp.and_(*parts) if node.op == "and" else exp.or_(*parts)

    def negation(self, node: ast.Unary) -> exp.Expr:
        """``not x`` (``-x`` is a value)."""
        if node.op != "not":
            return self.boolean_value(node)
        return exp.Not(this=paren(self.condition(node.operand)))

    def binary_condition(self, node: ast.Binary) -> exp.Expr:
        """A comparison (arithmetic is a value)."""
        return self.boolean_value(node) if node.op in ARITHMETIC else self.comparison(node)

    def comparison(self, node: ast.Binary) -> exp.Expr:
        """``= != < <= > >=`` and ``:`` (a date period prefix when the field is a date)."""
        left = self.expr(node.left)
        period_text = _PERIOD_TEXT.get(type(node.right))
        if node.op == ":" and left.type in TEMPORAL and period_text is not None:
            return self.period(left, self.when(period_text(node.right), node.right))
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
        """``x like "word"``: x holds that word (``*`` is any run of letters, ``"dev*"`` any
        word starting with dev); several words must all be there; case and accents ignored."""
        left = self.expr(node.operand)
        self.require(left, frozenset({TEXT}), node.operand, "like")
        terms = checked(like_terms(node.pattern), clause=self.clause, position=node.pos)
        if not terms:
            raise self.error("like needs a pattern with at least one letter or digit", node)
        sql = match_terms(terms, [left.sql])
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
    def text_columns(self) -> list[exp.Expr]:
        """Every text field, where a search names none (or ``*``)."""
        return [column(name) for name, kind in self.schema.items() if kind == TEXT]

    def searched(self, node: ast.Call) -> tuple[list[exp.Expr], str]:
        """The fields and the text of ``name([field, ...|*,] "text")``."""
        *fields, text = node.args
        if not isinstance(text, ast.String):
            raise self.error(f"{node.name}() ends with a quoted text", text)
        if not fields or (len(fields) == 1 and isinstance(fields[0], ast.Star)):
            return self.text_columns(), text.value
        columns = []
        for f in fields:
            if isinstance(f, ast.Star):
                raise self.error(f"'*' stands alone in {node.name}(): every text field", f)
            typed = self.expr(f)
            self.require(typed, frozenset({TEXT}), f, f"{node.name}()")
            columns.append(typed.sql)
        return columns, text.value

    def search_call(self, node: ast.Call) -> exp.Expr:
        """``search([fields|*,] "text")`` (fuzzy words) or ``suggest(...)`` (word starts)."""
        columns, text = self.searched(node)
        return text_search(text, columns, mode=node.name, clause=self.clause,
                           position=node.args[-1].pos)

    def startswith(self, node: ast.Call) -> exp.Expr:
        """``startswith([fields|*,] "prefix")``: one of the fields' whole value starts with the
        prefix, case and accents kept (as Opendatasoft documents it)."""
        columns, prefix = self.searched(node)
        if not columns:
            return exp.Boolean(this=False)
        return exp.or_(*(fn("starts_with", col, exp.Literal.string(prefix)) for col in columns))


#: How ``Conditions.condition`` compiles each node class (any other: a boolean value).
_CONDITIONS: dict[type[ast.Node], Callable[[Conditions, Any], exp.Expr]] = {
    ast.String: Conditions.bare_search,
    ast.BoolOp: Conditions.bool_op,
    ast.Unary: Conditions.negation,
    ast.Binary: Conditions.binary_condition,
    ast.InList: Conditions.in_list,
    ast.InRange: Conditions.in_range,
    ast.Like: Conditions.like,
    ast.Is: Conditions.is_,
}

#: The text of a value written after ``date_field:``, read as a period (``2024/05``).
_PERIOD_TEXT: dict[type[ast.Node], Callable[[Any], str]] = {
    ast.String: lambda node: node.value,
    ast.Number: lambda node: str(node.value),
    ast.DateLit: lambda node: node.text,
}
