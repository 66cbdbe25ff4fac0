"""The import rules of docs/architecture.md hold: every import of the package, at the top of a
module or inside a function, goes down the layers (never up, never sideways between siblings),
and no module reaches itself again through its imports."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "mutuelle"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
#: The line of docs/architecture.md giving the layer order, e.g. ``core → catalog | store → ...``.
ORDER_LINE = re.compile(r"^\s*core\s*→.*$", re.MULTILINE)

Graph = dict[str, set[str]]


def layer_order(text: str) -> dict[str, int]:
    """Rank of each layer in the documented order: ``→`` goes up one rank, ``|`` joins
    siblings of one rank."""
    found = ORDER_LINE.search(text)
    if found is None:
        raise AssertionError(f"{ARCHITECTURE.name} has no line 'core → ...' giving the layers")
    ranks: dict[str, int] = {}
    for rank, group in enumerate(found.group(0).split("→")):
        for name in group.split("|"):
            ranks[name.strip().strip("`")] = rank
    return ranks


def module_name(path: Path, package: Path = PACKAGE) -> str:
    """``mutuelle.geo.tiles`` for mutuelle/geo/tiles.py, ``mutuelle.geo`` for its __init__."""
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(source: str, name: str, *, is_package: bool, known: Iterable[str]) -> set[str]:
    """The package's modules that ``source`` (module ``name``) imports, anywhere in its body:
    ``from a.b import c`` names the module ``a.b.c`` when there is one, else ``a.b``."""
    known = set(known)
    top = name.split(".")[0]
    here = name if is_package else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == top}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")[: len(here.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if target.split(".")[0] != top:
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                out.add(sub if sub in known else target)
    out.discard(name)
    return out


def import_graph(package: Path = PACKAGE) -> Graph:
    """Module -> the package's modules it imports."""
    paths = {module_name(p, package): p for p in sorted(package.rglob("*.py"))}
    return {name: imports(path.read_text(encoding="utf-8"), name,
                          is_package=path.name == "__init__.py", known=paths)
            for name, path in paths.items()}


def layer_of(module: str) -> str:
    """``geo`` for ``mutuelle.geo.tiles``, ``cli`` for ``mutuelle.cli``; the package itself
    (its ``__init__``, the version) is ``mutuelle``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def upward_imports(graph: Graph, ranks: Mapping[str, int]) -> list[str]:
    """Each import of a layer from a layer of the same rank (a sibling) or above."""
    out = []
    for module, targets in sorted(graph.items()):
        source = layer_of(module)
        for target in sorted(targets):
            goal = layer_of(target)
            if goal == source or goal == "mutuelle" and module != "mutuelle":
                continue  # inside one layer; the package's version anyone may read
            if ranks.get(goal, -1) >= ranks.get(source, -1) or module == "mutuelle":
                out.append(f"{module} ({source}) imports {target} ({goal})")
    return out


def cycles(graph: Graph) -> list[list[str]]:
    """The circles of modules importing each other, directly or through others (Tarjan's
    strongly connected components of more than one module)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return out


# --- the package -----------------------------------------------------------------------------

def test_the_documented_order_places_every_layer_of_the_package() -> None:
    ranks = layer_order(ARCHITECTURE.read_text(encoding="utf-8"))
    layers = {layer_of(m) for m in import_graph()} - {"mutuelle"}
    assert layers - set(ranks) == set(), f"layers missing from {ARCHITECTURE.name}'s order"


def test_every_import_goes_down_the_layers() -> None:
    ranks = layer_order(ARCHITECTURE.read_text(encoding="utf-8"))
    assert upward_imports(import_graph(), ranks) == []


def test_no_module_reaches_itself_through_its_imports() -> None:
    assert cycles(import_graph()) == []


# --- the rules themselves --------------------------------------------------------------------

ORDER = "core → catalog | store → geo → observatory → api | web | cli → app"


def write(root: Path, files: Mapping[str, str]) -> Path:
    for name, text in files.items():
        path = root / "mutuelle" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "mutuelle"


@pytest.mark.parametrize("files, found", [
    ({"geo/tiles.py": "def f():\n    from mutuelle.observatory import compute\n",
      "observatory/compute.py": ""},
     "mutuelle.geo.tiles (geo) imports mutuelle.observatory.compute (observatory)"),
    ({"web/pages.py": "from mutuelle.api.deps import get_session\n", "api/deps.py": ""},
     "mutuelle.web.pages (web) imports mutuelle.api.deps (api)"),
    ({"catalog/models.py": "from ..store import duck\n", "store/duck.py": ""},
     "mutuelle.catalog.models (catalog) imports mutuelle.store.duck (store)"),
    ({"core/config.py": "import mutuelle.cli\n", "cli.py": ""},
     "mutuelle.core.config (core) imports mutuelle.cli (cli)"),
])
def test_an_import_upward_or_between_siblings_is_caught(tmp_path: Path, files: dict[str, str],
                                                        found: str) -> None:
    graph = import_graph(write(tmp_path, {"__init__.py": "", **files}))
    assert upward_imports(graph, layer_order(ORDER)) == [found]


def test_imports_down_the_layers_and_of_the_version_pass(tmp_path: Path) -> None:
    graph = import_graph(write(tmp_path, {
        "__init__.py": "__version__ = '1'\n", "core/errors.py": "",
        "geo/tiles.py": "from mutuelle.core.errors import NotFound\nfrom . import cog\n",
        "geo/cog.py": "", "app.py": "from mutuelle import __version__\nimport mutuelle.geo.tiles\n"}))
    assert graph["mutuelle.geo.tiles"] == {"mutuelle.core.errors", "mutuelle.geo.cog"}
    assert upward_imports(graph, layer_order(ORDER)) == []


def test_a_circle_hidden_in_a_function_is_caught(tmp_path: Path) -> None:
    graph = import_graph(write(tmp_path, {
        "__init__.py": "", "geo/__init__.py": "",
        "geo/cog.py": "def check():\n    from mutuelle.geo.referential import check_vintage\n",
        "geo/referential.py": "from mutuelle.geo import cog\n",
        "geo/tiles.py": "from mutuelle.geo import cog\n"}))
    assert cycles(graph) == [["mutuelle.geo.cog", "mutuelle.geo.referential"]]


def test_an_order_line_is_required() -> None:
    with pytest.raises(AssertionError, match="no line"):
        layer_order("# Architecture\n\nno order here\n")
