"""The documentation site (``python site/build.py``): built from the README, ``docs/`` and the executed notebooks
without executing them, its home page and a notebook page show what they should, figures included.

Skipped where the packages of ``requirements-docs.txt`` are not installed (CI installs requirements.txt only); the
browser part also needs Chromium and its driver (Debian: ``chromium chromium-driver``) with selenium.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS_PACKAGES = ("sphinx", "myst_nb", "furo")
missing = [name for name in DOCS_PACKAGES if importlib.util.find_spec(name) is None]

NOTEBOOKS = sorted((ROOT / "reports" / "notebooks").glob("*.ipynb"))
DOC_PAGES = sorted((ROOT / "docs").glob("*.md"))
CONVERT = ROOT / "reports" / "notebooks" / "01_convert.ipynb"


class Page(HTMLParser):
    """What a built page holds: its <title>, <h1> texts, link targets, image sources and tables."""

    def __init__(self, path: Path):
        super().__init__()
        self.title, self.h1, self.links, self.images, self.tables = "", [], [], [], 0
        self._in = None
        self.feed(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("title", "h1"):
            self._in = tag
            if tag == "h1":
                self.h1.append("")
        elif tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        elif tag == "img":
            self.images.append(attrs.get("src", ""))
        elif tag == "table":
            self.tables += 1

    def handle_endtag(self, tag):
        if tag == self._in:
            self._in = None

    def handle_data(self, data):
        if self._in == "title":
            self.title += data
        elif self._in == "h1":
            self.h1[-1] += data.replace("\u00b6", "")  # the heading's permalink sign


def _digest(paths):
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def _notebook(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _title(notebook: dict) -> str:
    """The notebook's title: the first level-1 heading of its first Markdown cell."""
    source = "".join(next(c for c in notebook["cells"] if c["cell_type"] == "markdown")["source"])
    return next(line[2:].strip() for line in source.splitlines() if line.startswith("# "))


def _png_outputs(notebook: dict) -> int:
    return sum("image/png" in out.get("data", {}) for c in notebook["cells"] if c["cell_type"] == "code"
               for out in c.get("outputs", []))


def _tables(notebook: dict) -> tuple[int, int]:
    """Tables among the notebook's outputs: Markdown ones (by their delimiter rows) and HTML ones (DataFrames)."""
    markdown = html = 0
    for cell in notebook["cells"]:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "text/markdown" in data:
                markdown += len(re.findall(r"^\|?\s*:?-{3,}:?\s*\|", "".join(data["text/markdown"]), re.M))
            elif "text/html" in data:
                html += "".join(data["text/html"]).count("<table")
    return markdown, html


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site built once into a temporary folder; the executed notebooks must come out of it unchanged."""
    if missing:
        pytest.skip(f"documentation packages not installed ({', '.join(missing)}): "
                    "pip install -r requirements-docs.txt")
    spec = importlib.util.spec_from_file_location("site_build", ROOT / "site" / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    sources = [*NOTEBOOKS, *sorted((ROOT / "reports" / "studies").glob("*/03_figures.ipynb"))]
    before = _digest(sources)
    out = tmp_path_factory.mktemp("site")
    assert build.build(out, strict=True) == 0, "the site has warnings or errors (python site/build.py --strict)"
    assert _digest(sources) == before, "building the site changed an executed notebook"
    return out / "html"


def test_there_are_executed_notebooks_to_show():
    assert len(NOTEBOOKS) >= 3 and CONVERT in NOTEBOOKS


def _readme_section(title: str) -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"^## {title}\n(.+?)^## ", readme, re.S | re.M)
    assert match, f"README has no section {title!r}"
    return match.group(1)


def test_readme_read_section_links_every_executed_notebook_and_doc_page_and_gives_the_site_command():
    section = _readme_section("Read")
    links = set(re.findall(r"\]\(([^)#]+)\)", section))
    for page in [*NOTEBOOKS, *DOC_PAGES, *sorted((ROOT / "reports" / "studies").glob("*/03_figures.ipynb"))]:
        assert page.relative_to(ROOT).as_posix() in links, page.name
    assert all((ROOT / link).is_file() for link in links), links
    command = re.search(r"<!-- site-command -->\s*```bash\n(.+?)\n```", section, re.S)
    assert command and "pip install -r requirements-docs.txt" in command.group(1)
    assert "python site/build.py" in command.group(1) and (ROOT / "site" / "build.py").is_file()


def test_home_page_links_the_readme_every_notebook_and_every_doc_page(site):
    home = site / "site" / "index.html"
    assert home.is_file()
    page = Page(home)
    assert "TMKT compendium" in page.title
    assert [h.strip() for h in page.h1] == ["TMKT compendium"]
    targets = {(home.parent / link.split("#")[0]).resolve() for link in page.links if not link.startswith("http")}
    assert (site / "README.html").resolve() in targets
    for notebook in NOTEBOOKS:
        built = site / "reports" / "notebooks" / f"{notebook.stem}.html"
        assert built.is_file() and built.resolve() in targets, notebook.name
    for doc in DOC_PAGES:
        built = site / "docs" / f"{doc.stem}.html"
        assert built.is_file() and built.resolve() in targets, doc.name
    # the README's sections are linked one by one
    assert any(link.endswith("README.html#the-two-commands") for link in page.links)
    # html/index.html sends a reader to the home page
    assert 'url=site/index.html' in (site / "index.html").read_text(encoding="utf-8")


def test_notebook_page_shows_the_executed_outputs_with_figures_that_resolve(site):
    notebook = _notebook(CONVERT)
    built = site / "reports" / "notebooks" / "01_convert.html"
    page = Page(built)
    assert page.h1 and page.h1[0].strip() == _title(notebook)
    assert _title(notebook) in page.title
    figures = [src for src in page.images if src.endswith(".png")]
    assert len(figures) == _png_outputs(notebook) > 0  # every figure the run drew, none re-drawn or dropped
    for src in figures:
        image = (built.parent / src).resolve()
        assert image.is_file() and image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", src
    markdown_tables, html_tables = _tables(notebook)
    assert markdown_tables > 0
    # the Markdown tables of display(Markdown(...)) are rendered as tables too, not as text full of "|"
    assert page.tables == markdown_tables + html_tables


def test_readme_figures_resolve_on_its_page(site):
    page = Page(site / "README.html")
    assert page.images, "the README's figures are missing from its page"
    for src in page.images:
        assert (site / src).resolve().is_file(), src


def _browser():
    """A headless Chromium driven by selenium, or a skip that says what is missing."""
    if importlib.util.find_spec("selenium") is None:
        pytest.skip("selenium not installed (requirements-docs.txt)")
    browsers = ("chromium", "chromium-browser", "google-chrome")
    chromium = next((shutil.which(n) for n in browsers if shutil.which(n)), None)
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.skip("no headless browser: install Chromium and its driver (Debian: chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1280,900"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=driver_path), options=options)


def test_a_browser_shows_the_home_page_and_a_notebook_with_its_figures_loaded(site):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as shows
    from selenium.webdriver.support.ui import WebDriverWait

    driver = _browser()
    wait = WebDriverWait(driver, 30)
    try:
        driver.get((site / "index.html").as_uri())  # the redirect to the home page
        wait.until(shows.url_contains("/site/index.html"))
        article = wait.until(shows.visibility_of_element_located((By.TAG_NAME, "article")))
        assert "TMKT compendium" in driver.title
        shown = article.text
        for notebook in NOTEBOOKS:
            assert _title(_notebook(notebook)) in shown, notebook.name
        assert "The two commands" in shown  # a README section, linked from the home page

        driver.find_element(By.PARTIAL_LINK_TEXT, _title(_notebook(CONVERT))[:20]).click()
        wait.until(shows.url_contains("/reports/notebooks/01_convert.html"))
        heading = wait.until(shows.visibility_of_element_located((By.TAG_NAME, "h1")))
        assert heading.is_displayed() and _title(_notebook(CONVERT)) in heading.text
        figures = [im for im in driver.find_elements(By.CSS_SELECTOR, "article img")
                   if im.get_attribute("src").endswith(".png")]
        assert len(figures) == _png_outputs(_notebook(CONVERT))
        loaded = "return arguments[0].complete && arguments[0].naturalWidth;"
        wait.until(lambda d: all(d.execute_script(loaded, im) is not False for im in figures))
        widths = [driver.execute_script(loaded, im) for im in figures]
        assert all(w and w > 100 for w in widths), widths  # each figure loaded and decoded, not a broken image
        assert any(t.is_displayed() for t in driver.find_elements(By.CSS_SELECTOR, "article table"))
    finally:
        driver.quit()
