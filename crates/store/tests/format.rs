//! Output of `query` and `runs`: exact text for tables, RFC 4180 CSV, typed JSON, all from a
//! real database so that the SQLite types are the real ones.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and benchmarks: a failed unwrap is a failed check, with its message"
)]

mod common;

use common::{fixture, metric, run};
use ddmd_store::{format_query, format_run_detail, format_runs_table, OutputFormat, ReadStore};
use ddmd_store::{QueryResult, RunFilter, RunFinish};
use serde_json::{json, Value};

async fn q(sql: &str) -> QueryResult {
    let f = fixture().await;
    let r = ReadStore::open(&f.db).await.unwrap();
    r.query(sql).await.unwrap()
}

#[tokio::test]
async fn csv_quotes_commas_quotes_and_newlines() {
    let res = q("SELECT 'plain' AS a, 'x,y' AS \"b,c\", 'say \"hi\"' AS d, \
                 'two' || char(10) || 'lines' AS e, 'cr' || char(13) AS f, NULL AS g, 3 AS h, 2.5 AS i")
    .await;
    assert_eq!(
        format_query(&res, OutputFormat::Csv),
        "a,\"b,c\",d,e,f,g,h,i\r\nplain,\"x,y\",\"say \"\"hi\"\"\",\"two\nlines\",\"cr\r\",,3,2.5\r\n"
    );
}

#[tokio::test]
async fn json_keeps_sqlite_types_and_column_order() {
    let res = q(
        "SELECT 1 AS z, 2.5 AS a, 'text' AS m, NULL AS n, x'00ff' AS b, \
                 9223372036854775807 AS big, 1e400 AS inf, 7 AS z",
    )
    .await;
    let out = format_query(&res, OutputFormat::Json);
    assert_eq!(
        out,
        "[\n  {\"z\": 1, \"a\": 2.5, \"m\": \"text\", \"n\": null, \"b\": \"x'00ff'\", \
         \"big\": 9223372036854775807, \"inf\": \"Infinity\", \"z_2\": 7}\n]\n"
    );
    let parsed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(parsed[0]["big"], json!(i64::MAX));
    assert_eq!(parsed[0]["n"], Value::Null);
    let empty = q("SELECT 1 AS a WHERE 0").await;
    assert_eq!(empty.columns, vec!["a"]);
    assert_eq!(format_query(&empty, OutputFormat::Json), "[]\n");
}

#[tokio::test]
async fn table_aligns_columns_and_counts_rows() {
    let res = q("SELECT 'train' AS stage, 'succeeded' AS status, 12 AS n \
                 UNION ALL SELECT 'évaluer', 'failed' || char(10) || 'x', 3")
    .await;
    assert_eq!(
        format_query(&res, OutputFormat::Table),
        concat!(
            " stage   | status    | n\n",
            "---------+-----------+----\n",
            " train   | succeeded | 12\n",
            " évaluer | failed\\nx |  3\n",
            "(2 rows)\n",
        )
    );
    let empty = q("SELECT 1 AS a WHERE 0").await;
    assert_eq!(
        format_query(&empty, OutputFormat::Table),
        " a\n---\n(0 rows)\n"
    );
}

#[tokio::test]
async fn runs_list_and_show() {
    let f = fixture().await;
    let a = run(&f, "train[lr=0.1]").await;
    f.store
        .mark_running(a, &[0, 2], Some(99), "/jobs/1", 1_796_071_072.0)
        .await
        .unwrap();
    f.store
        .ingest(
            a,
            &[metric(0, "loss", 10, 0.25), metric(1, "grad", 10, f64::NAN)],
        )
        .await
        .unwrap();
    f.store
        .finish_run(
            a,
            &RunFinish {
                status: ddmd_core::RunStatus::Failed,
                exit_code: Some(3),
                error: Some("exit code 3\nTraceback...".into()),
                ended_at: 1_796_071_317.0,
                artifact_dir: None,
            },
        )
        .await
        .unwrap();
    let b = run(&f, "eval").await;
    let r = ReadStore::open(&f.db).await.unwrap();
    let runs = r.list_runs(&RunFilter::default()).await.unwrap();
    assert_eq!(
        format_runs_table(&runs),
        concat!(
            " id | stage | job           | status | try | devices | started             | time  | error\n",
            "----+-------+---------------+--------+-----+---------+---------------------+-------+-------------\n",
            "  2 | train | eval          | queued |   1 | cpu     |                     |       |\n",
            "  1 | train | train[lr=0.1] | failed |   1 | 0,2     | 2026-11-30 20:37:52 | 4m05s | exit code 3\n",
            "(2 rows)\n",
        )
    );
    let d = r.run(a).await.unwrap().unwrap();
    let text = format_run_detail(&d);
    assert_eq!(
        text,
        concat!(
            "run 1  train[lr=0.1]  [failed]\n",
            "  stage        train (kind command)\n",
            "  pipeline     #1  invocation #1\n",
            "  attempt      1\n",
            "  cache key    key-train[lr=0.1]\n",
            "  devices      0,2\n",
            "  queued       1970-01-01 00:16:40\n",
            "  started      2026-11-30 20:37:52\n",
            "  ended        2026-11-30 20:41:57  (4m05s)\n",
            "  exit code    3\n",
            "  pgid         99\n",
            "  job dir      /jobs/1\n",
            "  error        exit code 3\n",
            "               Traceback...\n",
            "\n",
            "matrix point\n",
            "  lr = 0.1\n",
            "\n",
            "parameters\n",
            "  data.kind     \"shapes\"\n",
            "  data.objects  [1,3]\n",
            "  lr            0.1\n",
            "  run           \"echo hi\"\n",
            "\n",
            "final metrics\n",
            "   metric | step | value\n",
            "  --------+------+-------\n",
            "   grad   |   10 |   NaN\n",
            "   loss   |   10 |  0.25\n",
        )
    );
    assert!(r.run(b).await.unwrap().is_some());
}
