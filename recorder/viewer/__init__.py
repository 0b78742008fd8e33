"""Look at a recording in a browser: one self-contained HTML file, or a local server.

    html = render(store, recording)                  # every screenshot, DOM snapshot and resource inside
    Path("failure.html").write_text(html)
    serve(store, port=0)                             # http://127.0.0.1:PORT/, blobs loaded lazily

The DOM view shows an action's DOM snapshot styled with the stylesheets, images and fonts
the recording kept, laid out at the recorded viewport size and scaled to the pane, with
the recorded scroll positions; nothing is fetched from the site it was recorded on.

Recorded pages are hostile input. Nothing recorded is ever put into the viewer's own HTML
as markup: the data travels as escaped JSON and is shown with ``textContent``; DOM
snapshots are shown only inside an ``<iframe sandbox>`` without ``allow-scripts``, under a
Content-Security-Policy that lets nothing be fetched but data: and blob: URLs and no frame
navigate (the viewer's own script and style sheet are allowed by hash, no inline script
or style otherwise); the server answers on 127.0.0.1 only and serves only blobs its database's
actions use and resources its recordings kept.

The page itself (HTML, CSS, JavaScript) is in ``recorder/viewer/assets/``; ``page.py``
inlines it, ``server.py`` serves it.
"""

from __future__ import annotations

from .page import recording_data, render, render_index
from .server import make_server, serve, serve_in_thread

__all__ = ["make_server", "recording_data", "render", "render_index", "serve", "serve_in_thread"]
