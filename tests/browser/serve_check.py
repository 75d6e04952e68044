#!/usr/bin/env python3
"""Drives `ddmd-pipe serve` in a real browser (Debian's Chromium through chromedriver and
Selenium) the way a researcher uses it, and fails with the step that broke.

  serve_check.py URL LIVE_RUN RUN_A RUN_B HOSTILE_JOB_TEXT BROKEN_RUN

- the live run's page: its `loss` curve gains points without a reload (same page load id);
  hovering shows a value; a legend entry toggles its series;
- the runs table: sorted by the final `loss` both ways; filtered to failed runs;
- compare: two runs, their `loss` series overlaid, `lr` among the parameters that differ;
- reports: the published report opens;
- a job whose name holds markup shows it as text, and so does a failed run whose log and
  error hold an `<img onerror>`: no script of theirs runs.
"""
import json
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait


def fail(step, msg):
    print(f"FAILED at {step}: {msg}", flush=True)
    sys.exit(1)


def wait(driver, cond, step, secs=20):
    # The runs table redraws itself every few seconds (it follows running jobs): an element
    # read during a redraw is stale, and the condition is simply tried again.
    try:
        return WebDriverWait(driver, secs, poll_frequency=0.1,
                             ignored_exceptions=[StaleElementReferenceException]).until(lambda d: cond(d))
    except Exception as e:  # noqa: BLE001 - the step name is the message
        fail(step, f"timed out after {secs}s ({type(e).__name__})")


def click(driver, css, step):
    wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, css).click() or True, step)


def choose(driver, element_id, value, step):
    wait(driver, lambda d: Select(d.find_element(By.ID, element_id)).select_by_value(value) or True, step)


def points(driver, key):
    figs = driver.find_elements(By.CSS_SELECTOR, f'figure.chart[data-key="{key}"]')
    return int(figs[0].get_attribute("data-points")) if figs else -1


def column(driver, sort):
    heads = driver.find_elements(By.CSS_SELECTOR, "#runs thead th")
    idx = [h.get_attribute("data-sort") for h in heads].index(sort)
    return [r.find_elements(By.TAG_NAME, "td")[idx].text for r in driver.find_elements(By.CSS_SELECTOR, "#runs tbody tr")]


def main():
    url, live_run, run_a, run_b, hostile, broken = sys.argv[1:7]
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"]:
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    seen = {}
    try:
        # 1. A live run: the curve grows while the page stays the same page.
        driver.get(f"{url}/runs/{live_run}")
        wait(driver, lambda d: points(d, "loss") > 0, "live curve appears")
        load_id = driver.execute_script("return window.ddmdLoadId")
        n1 = points(driver, "loss")
        wait(driver, lambda d: points(d, "loss") >= n1 + 5, "live curve grows", secs=15)
        n2 = points(driver, "loss")
        if driver.execute_script("return window.ddmdLoadId") != load_id:
            fail("live curve grows", "the page was reloaded")
        seen["live_points"] = [n1, n2]
        fig = driver.find_element(By.CSS_SELECTOR, 'figure.chart[data-key="loss"]')
        ActionChains(driver).move_to_element(fig.find_element(By.TAG_NAME, "svg")).perform()
        tip = wait(driver, lambda d: fig.find_element(By.CSS_SELECTOR, ".tip").is_displayed() and fig.find_element(By.CSS_SELECTOR, ".tip"), "hover value")
        seen["hover"] = tip.text.replace("\n", " | ")
        if "step" not in seen["hover"]:
            fail("hover value", seen["hover"])
        key = 'figure.chart[data-key="loss"] .legend .key'
        click(driver, key, "legend toggle")
        wait(driver, lambda d: not fig.find_elements(By.CSS_SELECTOR, "path.series"), "legend hides the series")
        click(driver, key, "legend toggle back")
        wait(driver, lambda d: fig.find_elements(By.CSS_SELECTOR, "path.series"), "legend shows the series")

        # 2. The runs table: sort by a metric, both ways; filter by status.
        driver.get(url + "/")
        wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, '#runs th[data-sort="metric:loss"]'), "runs table")
        click(driver, '#runs th[data-sort="metric:loss"]', "sort by loss")
        wait(driver, lambda d: "▼" in d.find_element(By.CSS_SELECTOR, '#runs th[data-sort="metric:loss"]').text, "sorted descending")
        desc = wait(driver, lambda d: [float(v) for v in column(d, "metric:loss") if v != "—"] or None, "read the sorted column")
        click(driver, '#runs th[data-sort="metric:loss"]', "sort by loss again")
        wait(driver, lambda d: "▲" in d.find_element(By.CSS_SELECTOR, '#runs th[data-sort="metric:loss"]').text, "sorted ascending")
        asc = wait(driver, lambda d: [float(v) for v in column(d, "metric:loss") if v != "—"] or None, "read the sorted column")
        if len(desc) < 2 or desc != sorted(desc, reverse=True) or asc != sorted(asc):
            fail("sort by metric", f"desc {desc}, asc {asc}")
        seen["sorted"] = asc
        choose(driver, "filter-status", "failed", "filter by status")
        wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#runs tbody tr") and all(
            r.get_attribute("data-status") == "failed" for r in d.find_elements(By.CSS_SELECTOR, "#runs tbody tr")), "filter by status")
        seen["failed_rows"] = len(driver.find_elements(By.CSS_SELECTOR, "#runs tbody tr"))
        if "status=failed" not in driver.current_url:
            fail("filter by status", "the filter is not in the URL: " + driver.current_url)

        # 3. The hostile name is text, and its script never ran.
        choose(driver, "filter-status", "", "clear the filter")
        wait(driver, lambda d: any(hostile in td.text for td in d.find_elements(By.CSS_SELECTOR, "#runs tbody td")), "hostile name shown as text")
        if driver.execute_script("return window.pwned === undefined") is not True:
            fail("hostile name", "its script ran")
        driver.get(f"{url}/runs/{broken}")
        wait(driver, lambda d: "onerror" in d.find_element(By.ID, "log").text, "hostile log shown as text")
        if "onerror" not in driver.find_element(By.CSS_SELECTOR, "pre.error").text:
            fail("hostile error", "the error is not shown as text")
        time.sleep(0.5)
        if driver.execute_script("return window.pwned === undefined") is not True:
            fail("hostile log", "its script ran")
        driver.get(url + "/")
        wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, f'input[data-run="{run_a}"]'), "runs table again")

        # 4. Compare two runs: both series on one chart, the differing parameter listed.
        for box in [f'input[data-run="{run_a}"]', f'input[data-run="{run_b}"]']:
            click(driver, box, "select a run")
        click(driver, "#compare", "compare the selected runs")
        wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, 'figure.chart[data-key="loss"] path.series')) == 2, "compare overlays both series")
        differ = driver.find_element(By.ID, "differ").text
        if "lr" not in differ:
            fail("compare", "lr not among the parameters that differ: " + differ)
        seen["compare_series"] = [p.get_attribute("data-series") for p in driver.find_elements(By.CSS_SELECTOR, 'figure.chart[data-key="loss"] path.series')]

        # 5. A published report opens.
        driver.get(url + "/reports")
        link = wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#published a"), "reports list")[0]
        link.click()
        wait(driver, lambda d: "/files/" in d.current_url and d.find_elements(By.TAG_NAME, "h1"), "published report")
        seen["report_title"] = driver.title
        driver.get(url + "/reports")
        wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#live-reports a"), "live reports list")
        driver.find_elements(By.CSS_SELECTOR, "#live-reports a")[0].click()
        wait(driver, lambda d: "/live/" in d.current_url and d.find_elements(By.TAG_NAME, "h1"), "report rendered on the spot", secs=60)
        seen["live_report"] = driver.current_url.split("/live/")[1]
    finally:
        driver.quit()
    print(json.dumps(seen), flush=True)


if __name__ == "__main__":
    main()
