//! The report in a real browser: headless Chromium (Debian's `chromium`, installed by this test
//! when missing) opens a generated report from disk; the test checks there are no console
//! errors, that table cells equal values computed from the database with SQL, and keeps a
//! PNG screenshot under `target/test-artifacts/` for a person to look at.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

mod common;

use ddmd_report::stats::Summary;
use ddmd_report::{load_invocation, parse_report_params, render_report, RenderOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn chromium() -> PathBuf {
    for cand in ["chromium", "chromium-browser", "google-chrome"] {
        if let Ok(out) = Command::new("which").arg(cand).output() {
            if out.status.success() {
                return PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            }
        }
    }
    // Set-up step of this test: the brief's environment is Debian and we run as root.
    let status = Command::new("apt-get")
        .args(["install", "-y", "--no-install-recommends", "chromium"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .expect("run apt-get");
    assert!(status.success(), "apt-get install chromium failed");
    PathBuf::from("/usr/bin/chromium")
}

struct Output {
    stdout: String,
    stderr: String,
}

/// Runs headless Chromium with `args` on `url`, killing it after 90 s.
fn run_chromium(bin: &Path, profile: &Path, args: &[String], url: &str) -> Output {
    let mut cmd = Command::new(bin);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=3000",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(args)
    .arg(url)
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("start chromium");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).ok();
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut s).ok();
        s
    });
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        match child.try_wait().expect("wait chromium") {
            Some(_) => break,
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromium did not finish within 90 s");
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    Output {
        stdout: out_t.join().unwrap_or_default(),
        stderr: err_t.join().unwrap_or_default(),
    }
}

/// Console messages Chromium logged (`...:CONSOLE(line)] "message", source: ...`).
fn console_lines(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
        .map(str::to_string)
        .collect()
}

/// Text of the `<span class="v">` inside the cell `data-cell="t:r:c"`.
fn cell_text(dom: &str, id: &str) -> String {
    let at = dom
        .find(&format!("data-cell=\"{id}\""))
        .unwrap_or_else(|| panic!("cell {id} not in DOM"));
    let rest = &dom[at..];
    let v = rest.find("<span class=\"v\">").expect("value span") + "<span class=\"v\">".len();
    let end = rest[v..].find("</span>").expect("end span");
    rest[v..v + end].to_string()
}

fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("test-artifacts")
}

#[test]
fn report_in_headless_chromium() {
    let bin = chromium();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut fx = common::ablation(dir.path());
    let data = load_invocation(&fx.db.path, fx.invocation).expect("load");
    let params = serde_json::json!({
        "title": "Decoupled-DMD ablations (test fixture)",
        "tables": [{"preset": "loss_terms", "filter": {"schedule": "hybrid"}}, {"title": "Prompt following", "rows": "terms", "columns": ["dpg@4", "hps@4"]}],
        "plots": [{"kind": "line", "metric": "train/pixel_var", "series": "terms", "smooth": 0.5}, {"kind": "bar", "metric": "fid@4", "x": "terms"}]
    });
    let spec = parse_report_params(params.as_object().expect("obj")).expect("spec");
    let keep = artifacts_dir();
    std::fs::create_dir_all(&keep).expect("artifacts dir");
    let out = keep.join("browser-report");
    render_report(&data, &spec, &out, &RenderOptions::default()).expect("render");
    let index = std::fs::canonicalize(out.join("index.html")).expect("index");
    let url = format!("file://{}", index.display());
    let profile = dir.path().join("chromium-profile");

    // The detector works: a page that logs a console error is caught.
    let bad = dir.path().join("bad.html");
    std::fs::write(
        &bad,
        "<!DOCTYPE html><html><body><script>console.error('boom-detector')</script></body></html>",
    )
    .expect("write");
    let control = run_chromium(
        &bin,
        &profile,
        &["--dump-dom".into()],
        &format!("file://{}", bad.display()),
    );
    assert!(
        console_lines(&control.stderr)
            .iter()
            .any(|l| l.contains("boom-detector")),
        "console detector saw nothing:\n{}",
        control.stderr
    );

    // The report: no console messages at all (its one inline script, the table sort, runs
    // without error, and nothing remote is loaded).
    let dom = run_chromium(&bin, &profile, &["--dump-dom".into()], &url);
    assert!(
        dom.stdout.contains("<table class=\"ablation\""),
        "DOM not dumped:\n{}",
        &dom.stderr
    );
    let console = console_lines(&dom.stderr);
    assert!(console.is_empty(), "console output: {console:?}");

    // Cells equal the database: final values by SQL (largest step, latest seq), mean ± the 95 %
    // half-width of the mean.
    let cols = ["fid@1", "fid@4", "stability"];
    for (ri, terms) in common::TERMS.iter().enumerate() {
        for (ci, key) in cols.iter().enumerate() {
            // One value per matrix point: the latest run of that point that logged the metric
            // (through a cached row's source); the value at the largest step, latest seq.
            let vals = fx.db.query_f64(
                "SELECT (SELECT m.value FROM metrics m WHERE m.run_id = COALESCE(r.source_run_id, r.id) AND m.key = ?1 ORDER BY m.step DESC, m.seq DESC LIMIT 1) \
                 FROM runs r WHERE r.id IN ( \
                   SELECT MAX(r2.id) FROM runs r2 WHERE r2.invocation_id = ?2 AND json_extract(r2.point, '$.terms') = ?3 \
                     AND EXISTS (SELECT 1 FROM metrics m2 WHERE m2.run_id = COALESCE(r2.source_run_id, r2.id) AND m2.key = ?1) \
                   GROUP BY r2.point)",
                &[(*key).into(), fx.invocation.into(), (*terms).into()],
            );
            assert!(!vals.is_empty(), "{terms} {key}: no DB values");
            let s = Summary::of(&vals);
            // The column chooses the decimals (one format per column): compare the numbers
            // to the precision shown.
            let got = cell_text(&dom.stdout, &format!("0:{ri}:{ci}"));
            let shown: Vec<&str> = got.split(" ± ").collect();
            let close = |text: &str, want: f64| {
                let decimals = text.split_once('.').map_or(0, |(_, d)| d.len());
                let v: f64 = text
                    .parse()
                    .unwrap_or_else(|_| panic!("{got:?} is not a number"));
                (v - want).abs() <= 0.5 * 10f64.powi(-(decimals as i32)) + 1e-9
            };
            assert!(
                close(shown[0], s.mean),
                "table 0 row {terms} column {key}: {got} vs mean {}",
                s.mean
            );
            match s.ci95_half_width() {
                Some(h) => assert!(
                    shown.len() == 2 && close(shown[1], h),
                    "table 0 row {terms} column {key}: {got} vs ± {h}"
                ),
                None => assert_eq!(shown.len(), 1, "{got}"),
            }
        }
    }
    assert_eq!(cell_text(&dom.stdout, "1:0:1"), "n/a", "HPS unavailable");
    assert!(dom.stdout.contains("no HPS v2.1 checkpoint configured"));
    assert!(
        dom.stdout.contains("class=\"num value best\"") || dom.stdout.contains("best\" data-cell"),
        "a best cell is marked"
    );

    // Screenshot for a person to look at.
    let shot = keep.join("report.png");
    let _ = std::fs::remove_file(&shot);
    let s = run_chromium(
        &bin,
        &profile,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1280,2600".into(),
            "--hide-scrollbars".into(),
        ],
        &url,
    );
    assert!(shot.is_file(), "no screenshot:\n{}", s.stderr);
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&shot).expect("open png"),
    ));
    let mut reader = decoder.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("png frame");
    assert_eq!((info.width, info.height), (1280, 2600));
    let px = &buf[..info.buffer_size()];
    let distinct: std::collections::BTreeSet<&[u8]> =
        px.chunks(info.color_type.samples()).step_by(97).collect();
    assert!(
        distinct.len() > 20,
        "screenshot looks blank ({} colours)",
        distinct.len()
    );
    fx.db.close();
    eprintln!("screenshot: {}", shot.display());
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let t = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_tree(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), &t).expect("copy");
        }
    }
}

/// What the HTML escaping of the templates writes for `/` and `&`, undone.
fn unescape(s: &str) -> String {
    s.replace("&#x2f;", "/").replace("&amp;", "&")
}

/// Every `href="…"` of a page, unescaped.
fn hrefs(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(unescape)
        .collect()
}

/// A report travels: rendered beside its home, it names no folder of this machine and its
/// links into the home resolve; copied to a folder elsewhere, a real browser (Selenium,
/// tests/browser/report_check.py) loads every image, follows every link inside it, and sorts
/// its table by a click on a column head.
#[test]
fn a_copied_report_keeps_its_links_images_and_sorts() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    let fx = common::ablation(&home);
    let data = load_invocation(&fx.db.path, fx.invocation).expect("load");
    let params = serde_json::json!({
        "title": "travels",
        // Five metric columns: wider than the narrow window report_check.py opens last.
        "tables": [{"title": "Prompt following", "rows": "terms",
                    "columns": ["fid@1", "fid@4", "dpg@4", "stability", "hps@4"]}],
        "plots": [{"kind": "bar", "metric": "fid@4", "x": "terms"},
                  {"kind": "scatter", "x": "fid@1", "y": "fid@4", "series": "terms"}]
    });
    let spec = parse_report_params(params.as_object().expect("obj")).expect("spec");
    let out = dir.path().join("reports/ablations");
    let opts = RenderOptions {
        home: Some(home.clone()),
        ..RenderOptions::default()
    };
    render_report(&data, &spec, &out, &opts).expect("render");

    // Beside its home: no absolute path of this machine; links into the home resolve.
    let home_text = home.display().to_string();
    let mut into_home = 0;
    for page in std::iter::once(out.join("index.html")).chain(
        std::fs::read_dir(out.join("runs"))
            .expect("runs")
            .map(|e| e.expect("entry").path()),
    ) {
        let html = std::fs::read_to_string(&page).expect("page");
        assert!(
            !html.contains(&home_text) && !html.contains("file://"),
            "{} names the home's absolute path",
            page.display()
        );
        for h in hrefs(&html).iter().filter(|h| h.starts_with("../")) {
            let target = page.parent().expect("parent").join(h);
            assert!(target.exists(), "{}: {h} does not resolve", page.display());
            if std::fs::canonicalize(&target)
                .expect("canonical")
                .starts_with(std::fs::canonicalize(&home).expect("home"))
            {
                into_home += 1;
            }
        }
    }
    assert!(into_home > 0, "no run page links an artifact in the home");
    let teacher_page = std::fs::read_to_string(out.join(format!(
        "runs/{}.html",
        data.runs
            .iter()
            .find(|r| r.stage == "teacher")
            .expect("teacher")
            .id
    )))
    .expect("teacher page");
    assert!(
        unescape(&teacher_page).contains("$DDMD_HOME/jobs/teacher"),
        "the job folder is shown relative to the home"
    );

    // Copied elsewhere (another depth, another parent): what is inside still works. A copy is
    // kept under target/test-artifacts/ for a person to look at.
    let elsewhere = dir.path().join("shared/with/a/reviewer");
    copy_tree(&out, &elsewhere);
    copy_tree(&out, &artifacts_dir().join("travelled-report"));
    let run = Command::new(repo.join(".venv/bin/python"))
        .arg(repo.join("tests/browser/report_check.py"))
        .arg(elsewhere.join("index.html"))
        .output()
        .expect("the venv's python (scripts/setup-venv with selenium)");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let seen: serde_json::Value =
        serde_json::from_str(stdout.trim().lines().last().expect("a line")).expect("json");
    eprintln!("browser saw: {seen}");
    assert_eq!(seen["pages"], 1 + data.runs.len(), "{seen}");
    assert!(seen["images"].as_u64() > Some(0), "{seen}");
    assert!(
        seen["internal_links"].as_u64() >= Some(data.runs.len() as u64),
        "{seen}"
    );
    assert!(seen["home_links"].as_u64() > Some(0), "{seen}");
}
