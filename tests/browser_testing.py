"""How browser tests check a page's accessibility: axe-core, served by `make test`'s assets."""

from pathlib import Path
from typing import Any

import pytest

AXE = Path(__file__).resolve().parents[1] / "mutuelle" / "web" / "static" / "vendor" / "axe-core" / "axe.min.js"


def axe_violations(page: Any) -> list[dict[str, object]]:
    """The WCAG 2.1 A/AA and best-practice violations axe-core finds in ``page`` (a
    Playwright page), up to five nodes each."""
    if not AXE.exists():
        pytest.fail("axe-core is not served: run scripts/build-assets.sh")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: {type: 'tag',
            values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}});
        return r.violations.map(v => ({id: v.id, impact: v.impact,
            nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}));
    }""")
    return list(result)
