"""The HTML report as a reader uses it, in Debian's chromium driven headless by selenium: a
report the small end-to-end run rendered, opened from a copy of its folder on another path.

Needs the chromium and chromium-driver packages (.ci/run installs them); without them these
tests skip and say why.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest
from conftest import SmallRun

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
WIDE, NARROW = 1400, 420

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                       reason="needs Debian's chromium and chromium-driver "
                              "(apt-get install chromium chromium-driver; .ci/run does)"),
    pytest.mark.skipif(importlib.util.find_spec("selenium") is None,
                       reason="needs selenium (the test extra of pyproject.toml)"),
]


def open_browser(width: int, dark: bool = False) -> Any:
    """Headless chromium through its chromedriver (named, so selenium looks for nothing),
    logging the console and the network."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--hide-scrollbars", f"--window-size={width},1000"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    # The window's width as a phone's or a desktop's (headless windows are at least 500 px).
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": 1000, "deviceScaleFactor": 1, "mobile": width < 600})
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [
        {"name": "prefers-color-scheme", "value": "dark" if dark else "light"}]})
    return driver


@pytest.fixture(scope="module")
def report(small_run: SmallRun) -> Path:
    return small_run.report_copy / "index.html"


@pytest.fixture
def page(report: Path) -> Iterator[Any]:
    from selenium.webdriver.support.ui import WebDriverWait

    driver = open_browser(WIDE)
    driver.get(report.as_uri())
    # A loaded page, its last table included, before any test looks: on a slow machine a CI
    # run once found no #table-job-times (the report's last table) although the file has it.
    WebDriverWait(driver, 30).until(lambda d: d.execute_script(
        "return document.readyState === 'complete' && !!document.getElementById('table-job-times')"))
    yield driver
    driver.quit()


def requests_made(driver: Any) -> list[str]:
    """Every URL the page asked for, from the performance log."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def test_every_image_loads_from_the_copied_folder_and_nothing_leaves_it(page: Any, report: Path) -> None:
    assert " " in str(report)  # a path with a space: links must be relative and escaped
    broken = page.execute_script(
        "return Array.from(document.querySelectorAll('main img'))"
        ".filter(i => !i.complete || i.naturalWidth === 0).map(i => i.getAttribute('src'))")
    assert broken == []
    assert page.execute_script("return document.querySelectorAll('main img').length") > 20
    assert page.execute_script(
        "return Array.from(document.querySelectorAll('main img')).filter(i => !i.alt.trim()).length") == 0
    requests = requests_made(page)
    assert requests and all(url.startswith(("file://", "data:")) for url in requests), requests
    errors = [e for e in page.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []


def column_values(page: Any, table: Any, column: int) -> list[str]:
    return [row.find_elements("css selector", "td")[column].text
            for row in table.find_elements("css selector", "tbody tr")]


def test_a_column_sorts_by_its_numbers_both_ways(page: Any) -> None:
    table = page.find_element("css selector", "table.layers")
    header = table.find_elements("css selector", "thead th")[4]  # weights
    assert header.text.startswith("weights")
    button = header.find_element("css selector", "button.sort")
    def layer_weights() -> set[tuple[str, str]]:
        return {(row.find_elements("css selector", "td")[1].text,
                 row.find_elements("css selector", "td")[4].text)
                for row in table.find_elements("css selector", "tbody tr")}

    pairs = layer_weights()
    before = column_values(page, table, 4)
    numbers = [int(value.replace(",", "")) for value in before]
    button.click()
    assert header.get_attribute("aria-sort") == "ascending"
    assert [int(v.replace(",", "")) for v in column_values(page, table, 4)] == sorted(numbers)
    button.click()
    assert header.get_attribute("aria-sort") == "descending"
    assert [int(v.replace(",", "")) for v in column_values(page, table, 4)] == sorted(numbers, reverse=True)
    assert layer_weights() == pairs  # whole rows move: each layer keeps its own count


def test_sort_keys_read_numbers_intervals_and_dashes(page: Any) -> None:
    """The page's own sort on a table made for the test: "98.95 ± 0.12%" by its mean, "1,234"
    as a thousand, a dash (not measured) last whichever the direction."""
    page.execute_script("""
        const table = document.createElement('table');
        table.id = 'made';
        table.innerHTML = '<thead><tr><th>value</th></tr></thead><tbody>' +
          ['98.95 ± 0.12%', '–', '1,234', 'p = 0.2', '7.5%', '−3', 'p < 0.001', 'digitcnn',
           'p = 0.03', '0.001'].map(
            v => '<tr><td>' + v + '</td></tr>').join('') + '</tbody>';
        document.querySelector('main').appendChild(table);""")
    page.execute_script("window.cnnlabReport.prepareTable(document.getElementById('made'))")
    table = page.find_element("css selector", "#made")
    button = table.find_element("css selector", "button.sort")
    button.click()
    ascending = ["−3", "p < 0.001", "0.001", "p = 0.03", "p = 0.2", "7.5%", "98.95 ± 0.12%",
                 "1,234", "digitcnn", "–"]
    assert column_values(page, table, 0) == ascending
    button.click()
    assert column_values(page, table, 0) == [*ascending[-2::-1], "–"]


def test_a_long_table_filters_its_rows(page: Any) -> None:
    table = page.find_element("css selector", "#table-job-times")  # a row per job: long
    box = table.find_element("xpath", "preceding-sibling::div[@class='table-filter'][1]//input")
    rows = table.find_elements("css selector", "tbody tr")
    box.send_keys("permuted DigitCNN train")  # every word, in any case, anywhere in the row
    visible = [row for row in rows if row.is_displayed()]
    assert [row.find_element("css selector", "td").text for row in visible] == [
        "mnist_permuted / digitcnn / train"]
    shown = box.find_element("xpath", "../span").text
    assert shown == f"{len(visible)} of {len(rows)} rows"


def test_search_finds_a_layer_and_scrolls_to_it(page: Any) -> None:
    search = page.find_element("css selector", "#report-search")
    search.send_keys("features.3 conv2d digitcnn")
    results = page.find_elements("css selector", ".search-results a")
    assert results and "features.3" in results[0].text and "digitcnn" in results[0].text
    assert page.execute_script("return window.scrollY") == 0
    assert results[0].text.endswith("in digitcnn on mnist")
    results[0].click()
    target = page.execute_script("return document.getElementById(location.hash.slice(1))")
    assert target.tag_name == "tr" and "features.3" in target.text
    top, height = page.execute_script(
        "const r = arguments[0].getBoundingClientRect(); return [r.top, window.innerHeight]", target)
    assert page.execute_script("return window.scrollY") > 0
    assert 0 <= top <= height  # in view
    assert "search-hit" in target.get_attribute("class")


def test_a_figure_opens_enlarged_and_escape_or_the_button_closes_it(page: Any) -> None:
    from selenium.webdriver.common.keys import Keys

    image = page.find_elements("css selector", "main figure img")[3]
    lightbox = page.find_element("css selector", ".lightbox")
    assert not lightbox.is_displayed()
    page.execute_script("arguments[0].scrollIntoView({block: 'center'})", image)
    image.click()
    assert lightbox.is_displayed()
    enlarged = lightbox.find_element("css selector", "img")
    assert enlarged.get_attribute("src") == image.get_attribute("src")
    assert enlarged.get_attribute("alt") == image.get_attribute("alt")
    assert page.switch_to.active_element.get_attribute("class") == "lightbox-close"
    page.switch_to.active_element.send_keys(Keys.ESCAPE)
    assert not lightbox.is_displayed()
    image.send_keys(Keys.ENTER)  # the keyboard opens it too, and the close button shuts it
    assert lightbox.is_displayed()
    lightbox.find_element("css selector", ".lightbox-close").click()
    assert not lightbox.is_displayed()


def theme_colours(page: Any) -> tuple[str, str]:
    return tuple(page.execute_script(
        "const s = getComputedStyle(document.body); return [s.backgroundColor, s.color]"))


def test_the_theme_follows_the_system_and_the_toggle(report: Path) -> None:
    light, dark = (open_browser(WIDE, dark=flag) for flag in (False, True))
    try:
        light.get(report.as_uri())
        dark.get(report.as_uri())
        assert theme_colours(light) == ("rgb(255, 255, 255)", "rgb(29, 36, 48)")
        assert theme_colours(dark) == ("rgb(20, 24, 30)", "rgb(225, 230, 237)")
        # Figures stay drawn on white in the dark theme, framed, not inverted.
        assert dark.execute_script(
            "return getComputedStyle(document.querySelector('main figure img')).backgroundColor"
        ) == "rgb(255, 255, 255)"
        assert dark.execute_script(
            "return getComputedStyle(document.querySelector('main figure img')).filter") == "none"
        toggle = light.find_element("css selector", ".theme-toggle")
        assert toggle.text == "Theme: auto"
        toggle.click()
        toggle.click()  # auto -> light -> dark
        assert toggle.text == "Theme: dark" and theme_colours(light)[0] == "rgb(20, 24, 30)"
        light.refresh()  # the choice is kept
        assert theme_colours(light)[0] == "rgb(20, 24, 30)"
        light.find_element("css selector", ".theme-toggle").click()  # dark -> auto
        assert theme_colours(light)[0] == "rgb(255, 255, 255)"
    finally:
        light.quit()
        dark.quit()


def test_the_page_reads_without_javascript(report: Path) -> None:
    """With scripts off: every section and figure is there, only the interactions are not."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        driver.get(report.as_uri())
        assert "js" not in (driver.find_element("tag name", "html").get_attribute("class") or "")
        assert driver.find_elements("css selector", "#report-search") == []
        assert driver.find_elements("css selector", "button.sort") == []
        assert len(driver.find_elements("css selector", "main figure img")) > 20
        assert driver.find_element("css selector", "table.layers").is_displayed()
        assert driver.find_element("css selector", "nav.sidebar").is_displayed()
    finally:
        driver.quit()


@pytest.mark.parametrize("width", [WIDE, NARROW])
@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_screenshots_at_both_widths_and_themes(report: Path, width: int, dark: bool,
                                               tmp_path_factory: pytest.TempPathFactory) -> None:
    """Screenshots to look at (kept under pytest's temporary folder); the page never scrolls
    sideways, at either width."""
    driver = open_browser(width, dark)
    try:
        driver.get(report.as_uri())
        overflow = driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0
        folder = tmp_path_factory.getbasetemp() / "screenshots"
        folder.mkdir(exist_ok=True)
        name = f"report_{width}_{'dark' if dark else 'light'}.png"
        assert driver.save_screenshot(str(folder / name))
    finally:
        driver.quit()
