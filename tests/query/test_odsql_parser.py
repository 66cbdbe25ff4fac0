"""The ODSQL lexer and parser: trees for valid clauses, positioned errors for the rest."""

from __future__ import annotations

import pytest

from mutuelle.core.errors import QueryError
from mutuelle.query.odsql import ast, parse_group_by, parse_order_by, parse_select, parse_where
from mutuelle.query.odsql.parser import MAX_IN_ITEMS, MAX_NESTING, MAX_TREE_DEPTH

F, S, N = ast.Field, ast.String, ast.Number


def cmp(op: str, name: str, value: ast.Node) -> ast.Binary:
    return ast.Binary(op, F(name), value)


def test_and_binds_tighter_than_or() -> None:
    tree = parse_where("a = 1 or b = 2 and c = 3")
    assert tree == ast.BoolOp("or", (cmp("=", "a", N(1)), ast.BoolOp(
        "and", (cmp("=", "b", N(2)), cmp("=", "c", N(3))))))


def test_parentheses_change_grouping_and_chains_are_flattened() -> None:
    tree = parse_where("(a = 1 or b = 2) and c = 3 and d = 4")
    assert isinstance(tree, ast.BoolOp) and tree.op == "and"
    assert len(tree.operands) == 3
    assert tree.operands[0] == ast.BoolOp("or", (cmp("=", "a", N(1)), cmp("=", "b", N(2))))


def test_not_applies_to_the_whole_comparison() -> None:
    assert parse_where("not a > 1") == ast.Unary("not", cmp(">", "a", N(1)))


def test_arithmetic_follows_usual_precedence() -> None:
    tree = parse_where("a + b * 2 - -3 > 0")
    expected = ast.Binary("-", ast.Binary("+", F("a"), ast.Binary("*", F("b"), N(2))), N(-3))
    assert tree == ast.Binary(">", expected, N(0))


def test_comparison_operators_and_colon_equality() -> None:
    for op in ("=", "!=", "<", "<=", ">", ">=", ":"):
        assert parse_where(f"x {op} 'v'") == cmp(op, "x", S("v"))
    assert parse_where("x <> 1") == cmp("!=", "x", N(1))


def test_strings_take_both_quotes_and_backslash_escapes() -> None:
    assert parse_where(r"""x = 'it\'s' or x = "say \"hi\"" or x = 'a\\b'""") == ast.BoolOp(
        "or", (cmp("=", "x", S("it's")), cmp("=", "x", S('say "hi"')), cmp("=", "x", S("a\\b"))))


def test_backquoted_fields_may_hold_spaces_accents_and_keywords() -> None:
    assert parse_where("`contract type` = 'CDI'") == cmp("=", "contract type", S("CDI"))
    assert parse_where("`and` = 1") == cmp("=", "and", N(1))
    assert parse_where("métier = 1") == cmp("=", "métier", N(1))


def test_in_lists_and_ranges_with_inclusive_and_exclusive_ends() -> None:
    assert parse_where('city in ("Paris", "Lyon")') == ast.InList(
        F("city"), (S("Paris"), S("Lyon")))
    assert parse_where("x not in (1, 2)") == ast.InList(F("x"), (N(1), N(2)), negated=True)
    assert parse_where("x in [1..10]") == ast.InRange(F("x"), N(1), N(10), True, True)
    assert parse_where("x in ]1..10[") == ast.InRange(F("x"), N(1), N(10), False, False)
    assert parse_where("x in [1.5..*]") == ast.InRange(F("x"), N(1.5), None, True, True)
    assert parse_where("d in [date'2024'..date'2025'[") == ast.InRange(
        F("d"), ast.DateLit("2024"), ast.DateLit("2025"), True, False)


def test_like_and_is_predicates() -> None:
    assert parse_where("t like 'dev*'") == ast.Like(F("t"), "dev*")
    assert parse_where("t not like 'dev*'") == ast.Like(F("t"), "dev*", negated=True)
    assert parse_where("t is null") == ast.Is(F("t"), None)
    assert parse_where("t IS NOT NULL") == ast.Is(F("t"), None, negated=True)
    assert parse_where("remote is true") == ast.Is(F("remote"), True)
    assert parse_where("remote is not false") == ast.Is(F("remote"), False, negated=True)


def test_keywords_are_case_insensitive() -> None:
    assert parse_where("A = 1 AND NOT B = 2") == parse_where("A = 1 and not B = 2")


def test_typed_literals_and_quantities() -> None:
    tree = parse_where("within_distance(geo, geom'POINT(2.35 48.85)', 1.5km)")
    assert tree == ast.Call("within_distance", (
        F("geo"), ast.GeomLit("POINT(2.35 48.85)"), ast.Quantity(1.5, "km")))
    assert parse_where("d > date'2024-01-01'") == cmp(">", "d", ast.DateLit("2024-01-01"))


def test_a_bare_string_is_a_search() -> None:
    assert parse_where('"paris"') == S("paris")


def test_select_items_with_aliases_patterns_and_aggregates() -> None:
    items = parse_select("*, salary * 12 as yearly, count(distinct city), "
                         "include(job_*), exclude(`x y`), count(*)")
    assert items[0] == ast.SelectItem(ast.Star())
    assert items[1] == ast.SelectItem(ast.Binary("*", F("salary"), N(12)), "yearly")
    assert items[2] == ast.SelectItem(ast.Call("count", (F("city"),), distinct=True))
    assert items[2].name == "count(distinct city)"
    assert items[3] == ast.FieldPattern(True, "job_*")
    assert items[4] == ast.FieldPattern(False, "x y")
    assert items[5].name == "count(*)"  # type: ignore[union-attr]


def test_group_by_ranges_keep_their_stars_and_durations() -> None:
    items = parse_group_by("range(salary, *, 2000, 3000, *) as band, range(created, 1 month)")
    assert items[0].expr == ast.Call("range", (F("salary"), ast.Star(), N(2000), N(3000),
                                               ast.Star()))
    assert items[0].name == "band"
    assert items[1].expr == ast.Call("range", (F("created"), ast.Quantity(1, "month")))
    assert items[1].name == "range(created, 1 month)"


def test_order_by_directions_and_random_seed() -> None:
    items = parse_order_by("count(*) desc, city ASC, random(42)")
    assert [i.descending for i in items] == [True, False, False]
    assert items[2].expr == ast.Call("random", (N(42),))


@pytest.mark.parametrize("text, position, words", [
    ("read_csv('/etc/passwd')", 0, "unknown function"),
    ("getenv('HOME') = 'x'", 0, "unknown function"),
    ("x = 1; drop table x", 5, "unexpected character"),
    ("x = 1 -- comment", 6, "comments"),
    ("x = 1 /* c */", 6, "comments"),
    ("x = 'abc", 4, "unterminated"),
    ("'; drop table x", 0, "unterminated"),
    ("x = ", 4, "end of text"),
    ("x = 1 y", 6, "unexpected 'y'"),
    ("x in 1", 5, "in needs"),
    ("x in [1..2", 10, "range ends"),
    ("x like y", 7, "quoted pattern"),
    ("x is maybe", 5, "null, true or false"),
    ("a = b = c", 6, "chained"),
    ("count(distinct)", 0, "takes 1 argument"),
    ("year(a, b) = 1", 0, "takes 1 argument"),
    ("and = 1", 0, "keyword"),
    ("x = 1 union select 1", 6, "unexpected 'union'"),
])
def test_invalid_where_clauses_say_where_they_fail(text: str, position: int, words: str) -> None:
    with pytest.raises(QueryError) as info:
        parse_where(text)
    assert info.value.clause == "where"
    assert info.value.position == position
    assert words in info.value.message


def test_errors_name_their_clause() -> None:
    for parse, clause in ((parse_select, "select"), (parse_group_by, "group_by"),
                          (parse_order_by, "order_by")):
        with pytest.raises(QueryError) as info:
            parse("a,, b")
        assert info.value.clause == clause and info.value.position == 2


def test_control_characters_and_lone_surrogates_are_refused() -> None:
    for text in ("x = 'a\x00b'", "x = '\ud800'"):
        with pytest.raises(QueryError, match="forbidden character"):
            parse_where(text)


def test_nesting_beyond_the_limit_is_a_query_error_not_a_recursion_error() -> None:
    deep = "(" * (MAX_NESTING + 1) + "x = 1" + ")" * (MAX_NESTING + 1)
    with pytest.raises(QueryError, match="nested deeper"):
        parse_where(deep)
    with pytest.raises(QueryError, match="nested deeper"):
        parse_where("not " * 5000 + "x")
    with pytest.raises(QueryError, match="nested deeper"):
        parse_where("- " * 5000 + "1 = x")
    with pytest.raises(QueryError, match="nested deeper"):
        parse_where(" + ".join(["x"] * (MAX_TREE_DEPTH + 2)) + " = 1")


def test_redundant_parentheses_do_not_count_as_depth() -> None:
    depth = MAX_NESTING - 2
    assert parse_where("(" * depth + "x = 1" + ")" * depth) == cmp("=", "x", N(1))


def test_in_lists_are_capped() -> None:
    items = ", ".join(str(i) for i in range(MAX_IN_ITEMS))
    assert len(parse_where(f"x in ({items})").items) == MAX_IN_ITEMS  # type: ignore[union-attr]
    with pytest.raises(QueryError, match="more than"):
        parse_where(f"x in ({items}, 1)")


def test_a_ten_kilobyte_where_parses_and_a_huge_one_is_refused() -> None:
    text = " or ".join(f"city = 'ville numéro {i}'" for i in range(400))
    assert len(text) > 10_000
    assert len(parse_where(text).operands) == 400  # type: ignore[union-attr]
    with pytest.raises(QueryError, match="longer than"):
        parse_where("x = 1 or " * 5000 + "x = 1")


def test_big_integers_become_floats_and_overflowing_numbers_are_refused() -> None:
    assert parse_where("x = 123") == cmp("=", "x", N(123))
    big = parse_where("x = 99999999999999999999")
    assert isinstance(big, ast.Binary) and isinstance(big.right, ast.Number)
    assert isinstance(big.right.value, float)
    with pytest.raises(QueryError, match="out of range"):
        parse_where("x = 1e999")


def test_now_takes_named_arguments_with_signed_numbers() -> None:
    tree = parse_where("d > now(days=-7, mondays=+1, Year=2020)")
    assert tree == cmp(">", "d", ast.Call("now", (), keywords=(
        ast.Keyword("days", N(-7)), ast.Keyword("mondays", N(1)), ast.Keyword("year", N(2020)))))
    assert parse_where("x = +3") == cmp("=", "x", N(3))


@pytest.mark.parametrize("text, position, words", [
    ("d > now(dayz=1)", 8, "no argument named 'dayz'"),
    ("d > now(days=1, 2)", 16, "positional arguments come before"),
    ("d > now(days=)", 13, "unexpected ')'"),
])
def test_named_argument_errors_say_where(text: str, position: int, words: str) -> None:
    with pytest.raises(QueryError) as info:
        parse_where(text)
    assert info.value.position == position
    assert words in info.value.message


def test_other_functions_read_name_equals_value_as_a_comparison() -> None:
    assert parse_where("search(title = 'x', 'y')") == ast.Call(
        "search", (cmp("=", "title", S("x")), S("y")))


def test_legacy_distance_and_geometry_are_read_as_their_new_names() -> None:
    point = ast.GeomLit("POINT(1 2)")
    assert parse_where("distance(g, geom'POINT(1 2)', 3km)") == ast.Call(
        "within_distance", (F("g"), point, ast.Quantity(3, "km")))
    assert parse_select("distance(g, geom'POINT(1 2)') as d")[0] == ast.SelectItem(
        ast.Call("distance", (F("g"), point)), "d")
    for mode, name in (("INTERSECTS", "intersects"), ("Intersect", "intersects"),
                       ("within", "within"), ("DISJOINT", "disjoint")):
        assert parse_where(f"geometry(g, geom'POINT(1 2)', {mode})") == ast.Call(
            name, (F("g"), point))
    assert parse_where("geometry(g, geom'POINT(1 2)')") == ast.Call("intersects", (F("g"), point))
    with pytest.raises(QueryError) as info:
        parse_where("geometry(g, geom'POINT(1 2)', crosses)")
    assert info.value.position == 30


def test_duration_letters_are_units_only_against_their_number() -> None:
    assert parse_group_by("range(d, 1M)")[0].expr == ast.Call(
        "range", (F("d"), ast.Quantity(1, "M")))
    assert parse_group_by("range(d, 15m)")[0].expr == ast.Call(
        "range", (F("d"), ast.Quantity(15, "m")))
    assert parse_group_by("range(d, 2 days)")[0].expr == ast.Call(
        "range", (F("d"), ast.Quantity(2, "days")))
    with pytest.raises(QueryError) as info:
        parse_where("x = 1 d")
    assert info.value.position == 6


def test_search_functions_take_a_star_for_every_field() -> None:
    assert parse_where("search(*, 'a b')") == ast.Call("search", (ast.Star(), S("a b")))
    assert parse_where("suggest('a')") == ast.Call("suggest", (S("a"),))
    assert parse_where("startswith(*, 'A')") == ast.Call("startswith", (ast.Star(), S("A")))
