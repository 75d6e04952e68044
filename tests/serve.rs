//! `ddmd-pipe serve` for real: the server over a real database while a pipeline writes to it,
//! driven by a real browser (tests/browser/serve_check.py: Chromium through chromedriver and
//! Selenium), and attacked over raw HTTP: nothing it answers can change the database, leave
//! the home, or run a recorded string as markup.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

mod common;
use common::{repo, text, Env};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `serve` and its address; killed when dropped.
struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(env: &Env) -> Server {
    let mut child = env
        .cmd()
        .args(["serve", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    // "serving <db> on http://127.0.0.1:PORT/ (read-only; Ctrl-C stops)"
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    Server { child, addr }
}

/// One raw HTTP/1.1 exchange: (status, body).
fn http(addr: &str, request_line: &str, body: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!("{request_line}\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}",
            b.len()
        ));
    } else {
        req.push_str("\r\n");
    }
    s.write_all(req.as_bytes()).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|x| x.1)
        .unwrap_or("")
        .to_string();
    (status, body)
}

fn sha_of_db(env: &Env) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for name in ["runs.sqlite", "runs.sqlite-wal"] {
        let p = env.home().join(name);
        out.push((name.to_string(), std::fs::read(&p).unwrap_or_default()));
    }
    out
}

const DONE: &str = r#"
name: done
stages:
  train:
    kind: command
    matrix: { lr: [0.1, 0.3] }
    params:
      run: "python3 -c 'import ddmd_events as e\nfor s in range(20):\n    e.metric(\"loss\", {{ lr }} * 10 / (s + 1), s)\ne.flush()'"
  named:
    kind: command
    matrix: { tag: ["<script>alert(1)</script>"] }
    params: { run: "true" }
  broken:
    kind: command
    params: { run: "echo '<img src=x onerror=window.pwned=1>'; exit 3" }
  report:
    kind: report
    needs: [train]
    params: { title: "served" }
"#;

const LIVE: &str = r#"
name: live
stages:
  slow:
    kind: command
    params:
      run: "python3 -c 'import ddmd_events as e, time\nfor s in range(400):\n    e.metric(\"loss\", 1.0 / (s + 1), s)\n    e.flush()\n    time.sleep(0.1)'"
"#;

#[test]
fn a_browser_sees_curves_grow_sorts_filters_compares_and_opens_reports() {
    let env = Env::new();
    let done = env.pipeline("done.yaml", DONE);
    let out = env.run(&["run", done.to_str().unwrap(), "-q"]);
    assert_eq!(out.status.code(), Some(1), "one job fails: {}", text(&out));
    let live = env.pipeline("live.yaml", LIVE);
    let mut writer = env
        .cmd()
        .args(["run", live.to_str().unwrap(), "-q"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The live job is running and has logged a few points.
    let t = Instant::now();
    let live_run = loop {
        let r = env.sql(
            "select r.id from runs r join metrics m on m.run_id = r.id \
             where r.job_name = 'slow' and r.status = 'running' limit 1",
        );
        if let Some(row) = r.first() {
            break row[0].clone();
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the live job never logged"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let ids = env.sql("select id from runs where stage = 'train' order by id");
    let broken = env.scalar("select id from runs where job_name = 'broken'");
    let server = serve(&env);
    let out = Command::new(repo().join(".venv/bin/python"))
        .arg(repo().join("tests/browser/serve_check.py"))
        .args([
            &format!("http://{}", server.addr),
            &live_run,
            &ids[0][0],
            &ids[1][0],
            "<script>alert(1)</script>",
            &broken,
        ])
        .output()
        .unwrap();
    let _ = writer.kill();
    let _ = writer.wait();
    assert!(out.status.success(), "{}", text(&out));
    let seen: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    eprintln!("browser saw: {seen}");
    let pts = seen["live_points"].as_array().unwrap();
    assert!(pts[1].as_i64() > pts[0].as_i64(), "{seen}");
    assert_eq!(seen["failed_rows"], 1, "{seen}");
    assert_eq!(
        seen["compare_series"].as_array().unwrap().len(),
        2,
        "{seen}"
    );
    assert_eq!(
        seen["live_report"], "done/files/report/index.html",
        "{seen}"
    );
}

#[test]
fn nothing_served_writes_climbs_out_or_runs_markup() {
    let env = Env::new();
    let done = env.pipeline("done.yaml", DONE);
    let out = env.run(&["run", done.to_str().unwrap(), "-q"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    // Something outside the home that a traversal would reach.
    std::fs::write(env.path().join("secret.txt"), "secret").unwrap();
    let before = sha_of_db(&env);
    let runs_before = env.scalar("select count(*) from runs");
    let server = serve(&env);
    let a = &server.addr;
    let report = env.scalar("select id from runs where job_name = 'report'");
    let (code, body) = http(
        a,
        &format!("GET /files/{report}/report/index.html HTTP/1.1"),
        None,
    );
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("served"), "the published report");

    // No method but GET (and HEAD) on any route.
    for (method, path) in [
        ("POST", "/api/runs"),
        ("PUT", "/api/runs/1"),
        ("DELETE", "/api/runs/1"),
        ("PATCH", "/"),
        ("POST", "/live/done/report"),
    ] {
        let (code, _) = http(
            a,
            &format!("{method} {path} HTTP/1.1"),
            Some("{\"status\":\"failed\"}"),
        );
        assert_eq!(code, 405, "{method} {path}");
    }
    // No way out of the folders the database points to.
    for path in [
        format!("/files/{report}/../../runs.sqlite"),
        format!("/files/{report}/..%2F..%2Fruns.sqlite"),
        format!("/files/{report}/report/..%2F..%2F..%2F..%2Fsecret.txt"),
        format!("/files/{report}/%2Fetc%2Fpasswd"),
        "/live/..%2F..%2F/files/secret.txt".to_string(),
        "/live/done/files/..%2F..%2F..%2F..%2Fsecret.txt".to_string(),
        "/static/..%2Fmod.rs".to_string(),
    ] {
        let (code, body) = http(a, &format!("GET {path} HTTP/1.1"), None);
        assert!(code == 404 || code == 400, "{path}: {code} {body}");
        assert!(
            !body.contains("secret") && !body.contains("SQLite format"),
            "{path}: {body}"
        );
    }
    // An over-long request target is refused before routing.
    let long = "a".repeat(10_000);
    let (code, _) = http(a, &format!("GET /api/runs?status={long} HTTP/1.1"), None);
    assert_eq!(code, 414);
    // Bad parameters are named; SQL in them is data.
    let (code, body) = http(
        a,
        "GET /api/runs?sort=id;DROP%20TABLE%20runs HTTP/1.1",
        None,
    );
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("sort="), "{body}");
    let (code, body) = http(
        a,
        "GET /api/runs?pipeline=x%27%20OR%201=1;DELETE%20FROM%20runs;-- HTTP/1.1",
        None,
    );
    assert_eq!(code, 200, "{body}");
    assert!(
        body.contains("\"total\":0"),
        "a filter value is a value: {body}"
    );
    // The pages carry no recorded string; the API carries them as JSON strings.
    let (code, page) = http(a, "GET / HTTP/1.1", None);
    assert_eq!(code, 200);
    assert!(
        !page.contains("alert(1)") && !page.contains("onerror"),
        "{page}"
    );
    let (_, json) = http(a, "GET /api/runs?limit=50 HTTP/1.1", None);
    assert!(
        json.contains("named[tag=<script>alert(1)</script>]"),
        "{json}"
    );
    drop(server);
    assert_eq!(env.scalar("select count(*) from runs"), runs_before);
    assert!(sha_of_db(&env) == before, "the database files changed");
}

/// The table pages through many runs with the same few indexed reads.
#[test]
fn the_runs_table_pages_filters_and_sorts_on_the_server() {
    let env = Env::new();
    let values: Vec<String> = (0..30).map(|i| i.to_string()).collect();
    let p = env.pipeline(
        "many.yaml",
        &format!(
            "name: many\nstages:\n  j:\n    kind: command\n    matrix: {{ i: [{}] }}\n    params: {{ run: \"python3 -c 'import ddmd_events as e; e.metric(\\\"score\\\", ({{{{ i }}}} * 7) % 30, 0); e.flush()'\" }}\n",
            values.join(", ")
        ),
    );
    let out = env.run(&["run", p.to_str().unwrap(), "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let server = serve(&env);
    let get = |q: &str| -> serde_json::Value {
        let (code, body) = http(&server.addr, &format!("GET /api/runs?{q} HTTP/1.1"), None);
        assert_eq!(code, 200, "{q}: {body}");
        serde_json::from_str(&body).unwrap()
    };
    let page = get("limit=10&offset=10&sort=metric:score&dir=asc");
    assert_eq!(page["total"], 30);
    let scores: Vec<f64> = page["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["metrics"]["score"].as_f64().unwrap())
        .collect();
    assert_eq!(scores, (10..20).map(f64::from).collect::<Vec<_>>());
    assert_eq!(page["param_keys"], serde_json::json!(["i"]));
    let one = get("param=i=7");
    assert_eq!(one["total"], 1);
    assert_eq!(one["runs"][0]["run"]["job_name"], "j[i=7]");
    let (code, body) = http(&server.addr, "GET /api/runs?status=bogus HTTP/1.1", None);
    assert_eq!(code, 400);
    assert!(body.contains("expected one of queued, running"), "{body}");
}
