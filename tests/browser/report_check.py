#!/usr/bin/env python3
"""Opens a report that was copied away from where it was rendered, in a real browser (Debian's
Chromium through chromedriver and Selenium), and fails with the step that broke.

  report_check.py INDEX_PATH

- every image of the index and of every run page is loaded (naturalWidth > 0);
- every link that stays inside the report's folder opens a page of the report; links that
  leave it (into the home, relative) are counted, never absolute `file://` paths;
- the first ablation table sorts by a metric column both ways on a click of its head, the
  data row staying first, and by its row label;
- in a window narrower than the tables, a table scrolls in its own box and the page does not
  scroll sideways.

Prints one JSON line: what it saw.
"""
import json
import os
import sys
from urllib.parse import unquote, urlparse

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By


def fail(step, msg):
    print(f"FAILED at {step}: {msg}", flush=True)
    sys.exit(1)


def broken_images(driver):
    return driver.execute_script(
        "return Array.from(document.images)"
        ".filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src'))")


def hrefs(driver):
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href'))")


def column(driver, table, col):
    """(is the data row, data-mean or label) of each body row, in page order."""
    return driver.execute_script(
        "const [t, c] = arguments; return Array.from(t.tBodies[0].rows).map(r => "
        "[r.classList.contains('data'), r.children[c] ? "
        "(r.children[c].getAttribute('data-mean') ?? r.children[c].textContent.trim()) : null])",
        table, col)


def check_sorted(values, descending, step, numeric):
    rows = [v for is_data, v in values if not is_data]
    if values and any(is_data for is_data, _ in values) and not values[0][0]:
        fail(step, f"the data row left the top: {values}")
    keys = [float(v) for v in rows if v is not None] if numeric else [v.lower() for v in rows]
    if keys != sorted(keys, reverse=descending):
        fail(step, f"not sorted {'down' if descending else 'up'}: {keys}")
    return keys


def main():
    index = os.path.abspath(sys.argv[1])
    root = os.path.dirname(index)
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000",
              "--allow-file-access-from-files"]:
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    seen = {"pages": 0, "images": 0, "internal_links": 0, "home_links": 0}
    try:
        todo, done = [index], set()
        while todo:
            page = todo.pop()
            if page in done:
                continue
            done.add(page)
            driver.get("file://" + page)
            if not driver.find_elements(By.TAG_NAME, "h1"):
                fail("open " + os.path.relpath(page, root), "no heading: not a page of the report")
            seen["pages"] += 1
            bad = broken_images(driver)
            if bad:
                fail("images of " + os.path.relpath(page, root), f"not loaded: {bad}")
            seen["images"] += driver.execute_script("return document.images.length")
            for h in hrefs(driver):
                if h.startswith("#"):
                    continue
                if h.startswith("file:") or h.startswith("/"):
                    fail("links of " + os.path.relpath(page, root), f"absolute link {h}")
                target = os.path.normpath(os.path.join(os.path.dirname(page), unquote(urlparse(h).path)))
                if os.path.commonpath([target, root]) != root:
                    seen["home_links"] += 1
                    continue
                if not os.path.exists(target):
                    fail("links of " + os.path.relpath(page, root), f"{h} -> missing {target}")
                seen["internal_links"] += 1
                if target.endswith(".html"):
                    todo.append(target)

        driver.get("file://" + index)
        table = driver.find_element(By.CSS_SELECTOR, "table.ablation")
        heads = table.find_elements(By.CSS_SELECTOR, "thead th")
        metric = next(i for i, h in enumerate(heads) if "colhead" in h.get_attribute("class"))
        heads[metric].click()
        up = check_sorted(column(driver, table, metric), False, "sort a metric up", True)
        heads[metric].click()
        down = check_sorted(column(driver, table, metric), True, "sort a metric down", True)
        if heads[metric].get_attribute("aria-sort") != "descending":
            fail("sort a metric down", "the head does not say how the table is sorted")
        heads[0].click()
        check_sorted(column(driver, table, 0), False, "sort by the row label", False)
        seen["sorted_up"], seen["sorted_down"] = up, down

        # A narrow window: the widest table scrolls in its own box, the page does not.
        driver.set_window_size(640, 1000)
        widths = driver.execute_script(
            "const d = document.documentElement;"
            "return {page: d.scrollWidth, window: d.clientWidth,"
            " table: Math.max(0, ...Array.from(document.querySelectorAll('table')).map(t => t.scrollWidth))};")
        if widths["table"] <= widths["window"]:
            fail("narrow window", f"no table is wider than the window, nothing to check: {widths}")
        if widths["page"] > widths["window"]:
            fail("narrow window", f"the page scrolls sideways: {widths}")
        seen["narrow"] = widths
        logs = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
        if logs:
            fail("console", logs)
    finally:
        driver.quit()
    print(json.dumps(seen), flush=True)


if __name__ == "__main__":
    main()
