"""One layout and one small stylesheet for every page mockauth shows a person: readable on a
phone (viewport meta), usable from the keyboard (real links, buttons and labels, a visible
focus ring), and nothing loaded from elsewhere (no fonts, scripts or images)."""

from __future__ import annotations

from html import escape

STYLE = """
:root{color-scheme:light dark;--fg:#1d1d1f;--muted:#5f6368;--line:#d0d4da;--accent:#3b5bdb;
--bg:#fff;--card:#f6f7f9;--bad:#b3261e}
@media (prefers-color-scheme:dark){:root{--fg:#e8eaed;--muted:#9aa0a6;--line:#3c4043;
--accent:#8ab4f8;--bg:#202124;--card:#2a2b2e;--bad:#f28b82}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:16px/1.5 system-ui,-apple-system,
"Segoe UI",Roboto,sans-serif}
main{max-width:28rem;margin:0 auto;padding:2.5rem 1.25rem}
h1{font-size:1.5rem;margin:.2rem 0 1rem}
.app{color:var(--muted);font-size:.9rem;margin:0}
a.choice,button,input{font:inherit;border-radius:8px}
a.choice{display:block;padding:.75rem 1rem;margin:.5rem 0;border:1px solid var(--line);
background:var(--card);color:inherit;text-decoration:none}
a.choice small{display:block;color:var(--muted)}
a.choice:hover{border-color:var(--accent)}
label{display:block;margin:.8rem 0 .3rem;font-weight:600}
input{width:100%;padding:.6rem .7rem;border:1px solid var(--line);background:var(--bg);
color:inherit}
button{margin-top:1.2rem;padding:.65rem 1.2rem;border:0;background:var(--accent);color:#fff;
cursor:pointer}
button.secondary{background:transparent;color:var(--accent);border:1px solid var(--line)}
a{color:var(--accent)}
:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
.error{color:var(--bad);border-left:4px solid var(--bad);padding:.3rem .8rem}
footer{margin-top:2rem;color:var(--muted);font-size:.8rem}
"""


def page(title: str, body: str, *, app: str | None = None) -> str:
    """A whole page: ``body`` is trusted HTML; ``title`` and ``app`` (the name of the app
    asking, shown above the title) are escaped here."""
    asking = f'<p class="app">{escape(app)} is asking</p>' if app else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}: mockauth</title><style>{STYLE}</style></head>"
        f"<body><main>{asking}<h1>{escape(title)}</h1>{body}"
        "<footer>mockauth: a local mock of Kinde. No password is asked.</footer>"
        "</main></body></html>"
    )


def hidden_fields(pairs: list[tuple[str, str]]) -> str:
    return "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in pairs
    )


def error_page(title: str, message: str, back: str | None = None) -> str:
    """What a browser sees when a request it made cannot go on: why, and a way back."""
    way_back = (
        f'<p><a href="{escape(back)}">Try again</a></p>'
        if back
        else '<p><button type="button" class="secondary" onclick="history.back()">Go back'
        "</button></p>"
    )
    return page(title, f'<p class="error" role="alert">{escape(message)}</p>{way_back}')
