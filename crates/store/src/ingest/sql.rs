//! The multi-row `INSERT OR IGNORE … VALUES (…),(…)` statements of ingestion. Statement sizes
//! are a fixed maximum and powers of two below it, so that a handful of prepared statements
//! cover every batch size and stay in sqlx's cache.

/// Rows per metric statement: 1024 × 7 bound values stays well under SQLite's 32,766-variable
/// limit, and the per-statement round trip to sqlx's worker thread is paid once per 1024 rows.
pub(crate) const METRIC_ROWS_PER_STATEMENT: usize = 1024;

/// Rows per `events` statement (5 values each).
pub(crate) const EVENT_ROWS_PER_STATEMENT: usize = 256;

pub(crate) const METRIC_COLS: &str = "metrics (run_id, seq, key, step, value, raw, t)";
pub(crate) const EVENT_COLS: &str = "events (run_id, seq, type, payload, t)";
pub(crate) const ARTIFACT_COLS: &str = "artifacts (run_id, seq, name, path, bytes, sha256)";

/// `INSERT OR IGNORE INTO <cols> VALUES (?,…),(?,…)…` for `rows` rows of `ncols` columns.
pub(crate) fn insert_sql(cols: &str, ncols: usize, rows: usize) -> String {
    let tuple = format!("({})", vec!["?"; ncols].join(","));
    let mut sql = String::with_capacity(40 + rows * (tuple.len() + 1));
    sql.push_str("INSERT OR IGNORE INTO ");
    sql.push_str(cols);
    sql.push_str(" VALUES ");
    for i in 0..rows {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(&tuple);
    }
    sql
}

/// Splits `n` rows into statement sizes: full `max` chunks, then powers of two.
pub(crate) fn chunk_sizes(mut n: usize, max: usize) -> Vec<usize> {
    let mut out = Vec::new();
    while n >= max {
        out.push(max);
        n -= max;
    }
    while n > 0 {
        let p = 1usize << (usize::BITS - 1 - n.leading_zeros());
        out.push(p);
        n -= p;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_sizes_cover_n_with_few_distinct_sizes() {
        assert_eq!(chunk_sizes(0, 1024), Vec::<usize>::new());
        assert_eq!(chunk_sizes(5, 1024), vec![4, 1]);
        assert_eq!(chunk_sizes(2048 + 37, 1024), vec![1024, 1024, 32, 4, 1]);
        for n in [1, 999, 1024, 5000, 12345] {
            assert_eq!(chunk_sizes(n, 1024).iter().sum::<usize>(), n);
        }
    }

    #[test]
    fn insert_sql_shape() {
        assert_eq!(
            insert_sql("t (a, b)", 2, 2),
            "INSERT OR IGNORE INTO t (a, b) VALUES (?,?),(?,?)"
        );
    }
}
