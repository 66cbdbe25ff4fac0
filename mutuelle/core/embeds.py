"""Embeds: the ``<iframe>`` snippet another site pastes to show a table, chart, map, KPI,
scenario or dashboard, whose height then follows its content (here, in ``core``, because
pages and API answers alike hand it out).

The embed-only page (``templates/embed_base.html``) posts ``{"type": "mutuelle:height"}``
messages with its height (``static/js/embed-frame.js``); the snippet's script sets the height
of the iframe that sent it, and only for messages from this portal's origin.
"""

from __future__ import annotations

import json
from html import escape
from urllib.parse import urlsplit

#: Height of the iframe before its page has told it its own (pixels).
DEFAULT_HEIGHT = 480

_LISTENER = (
    "<script>(function(){{var o={origin};window.addEventListener('message',function(e){{"
    "if(e.origin!==o||!e.data||e.data.type!=='mutuelle:height')return;"
    "var f=document.querySelectorAll('iframe[data-mutuelle-embed]');"
    "for(var i=0;i<f.length;i++){{if(f[i].contentWindow===e.source)"
    "{{f[i].style.height=Math.min(e.data.height,10000)+'px';}}}}}});}})();</script>")


def embed_snippet(embed_url: str, title: str, *, height: int = DEFAULT_HEIGHT) -> str:
    """The HTML a web site pastes: an ``<iframe>`` of ``embed_url`` (an absolute URL) at full
    width, and the few lines of script that make its height follow its content."""
    parts = urlsplit(embed_url)
    origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
    frame = (f'<iframe src="{escape(embed_url, quote=True)}" title="{escape(title, quote=True)}" '
             f'data-mutuelle-embed style="width:100%;height:{int(height)}px;border:0" '
             f'loading="lazy"></iframe>')
    if not origin:
        return frame
    return frame + _LISTENER.format(origin=escape(json.dumps(origin), quote=False))
