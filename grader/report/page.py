"""The HTML document both of the grader's pages are: the student's feedback page and the class report.

A page is one self-contained file: images are data URIs and styles inline, and
its Content-Security-Policy lets it load nothing else and run no script, so it
works offline and nothing a student wrote (a notebook, a name) can make it
fetch or run anything. Every string that did not come from the grader goes
into a page through `escaped`.

This module imports no torch (nor nbconvert): `grade report` builds the class
report without either.
"""

from __future__ import annotations

import html

CONTENT_SECURITY_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

BASE_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 0; background: #f4f4f4; color: #1d1d1d; }
main { max-width: 1100px; margin: 0 auto; padding: 16px 24px 48px; background: #fff; }
h1 { font-size: 1.5em; margin: 0.4em 0; }
"""


def document(title: str, style: str, body: str) -> str:
    """A whole page: `title` is plain text, `style` the page's own CSS (after BASE_STYLE), `body` its HTML."""
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{escaped(title)}</title>\n<style>{BASE_STYLE}{style}</style>\n</head>\n"
            f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n")


def escaped(text: str) -> str:
    """`text` as HTML, fit for an element's content or a quoted attribute's value."""
    return html.escape(text, quote=True)
