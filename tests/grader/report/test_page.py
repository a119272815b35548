"""The document both pages are: its security policy, its shell, its escaping, and what it imports."""

from __future__ import annotations

from grader.report.page import BASE_STYLE, CONTENT_SECURITY_POLICY, document, escaped
from tests.helpers import loaded_after_importing


def test_the_policy_lets_a_page_load_nothing_but_its_own_images_and_styles_and_run_nothing() -> None:
    directives = dict(d.strip().split(" ", 1) for d in CONTENT_SECURITY_POLICY.split(";"))
    assert directives == {"default-src": "'none'", "img-src": "data:", "style-src": "'unsafe-inline'"}


def test_a_document_is_the_policy_the_escaped_title_the_styles_and_the_body_in_that_order() -> None:
    page = document('<script>"x"</script> & co', "p { color: red; }", "<p>hi</p>")
    assert page.startswith('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
                           f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">\n')
    assert "<title>&lt;script&gt;&quot;x&quot;&lt;/script&gt; &amp; co</title>" in page
    assert f"<style>{BASE_STYLE}p {{ color: red; }}</style>" in page
    assert page.endswith("<body>\n<main>\n<p>hi</p>\n</main>\n</body>\n</html>\n")
    assert page.count("<meta http-equiv") == 1 and "<script" not in page


def test_escaped_text_can_open_no_element_and_close_no_attribute() -> None:
    assert escaped("<img src=x onerror=\"a\">&'") == "&lt;img src=x onerror=&quot;a&quot;&gt;&amp;&#x27;"


def test_the_page_module_imports_neither_torch_nor_nbconvert() -> None:
    # `grade report` builds the class report on it without paying for either.
    loaded = {name.split(".")[0] for name in loaded_after_importing("grader.report.page")}
    assert "grader" in loaded and not {"torch", "nbconvert", "numpy"} & loaded
