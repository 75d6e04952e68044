//! Result of a user's SQL: column names and rows of JSON values, typed as SQLite stored them
//! (INTEGER -> integer, REAL -> number, TEXT -> string, BLOB -> hex string, NULL -> null).

use ddmd_core::nonfinite;
use serde::Serialize;
use serde_json::Value;
use sqlx::sqlite::{SqliteRow, SqliteValueRef};
use sqlx::{Decode, Row, Sqlite, TypeInfo, ValueRef};

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct QueryResult {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

pub(crate) fn row_values(row: &SqliteRow) -> Result<Vec<Value>, sqlx::Error> {
    (0..row.len())
        .map(|i| row.try_get_raw(i).and_then(value_to_json))
        .collect()
}

fn decode<'r, T: Decode<'r, Sqlite>>(v: SqliteValueRef<'r>) -> Result<T, sqlx::Error> {
    T::decode(v).map_err(sqlx::Error::Decode)
}

fn value_to_json(v: SqliteValueRef<'_>) -> Result<Value, sqlx::Error> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    let ty = v.type_info().name().to_string();
    Ok(match ty.as_str() {
        "INTEGER" | "BOOLEAN" => Value::from(decode::<i64>(v)?),
        "REAL" | "NUMERIC" => {
            let f = decode::<f64>(v)?;
            // SQLite stores infinities (never NaN); JSON has neither, so use the event
            // protocol's spelling.
            serde_json::Number::from_f64(f)
                .map(Value::Number)
                .unwrap_or_else(|| {
                    Value::String(nonfinite::encode(f).unwrap_or(nonfinite::NAN).into())
                })
        }
        "BLOB" => Value::String(format!("x'{}'", hex::encode(decode::<Vec<u8>>(v)?))),
        _ => Value::String(decode::<String>(v)?),
    })
}
