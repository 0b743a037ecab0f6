//! What the user's object's modules share over its SQLite storage: running a statement (a failure becomes an
//! internal error), reading rows, and writing many rows in few statements.

use ringhook::service::http::ApiError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use worker::{SqlStorage, SqlStorageValue};

/// Rows per statement of [`each_chunk`]: a done attempt's row carries its log record, so a few hundred stay well
/// under a megabyte, far below the storage's limit on one bound value.
pub const ROWS_PER_STATEMENT: usize = 200;

/// A failed statement, as the internal error the object logs.
pub fn error(e: worker::Error) -> ApiError {
    ApiError::internal(format!("SQL: {e}"))
}

/// Runs a statement.
pub fn exec(
    sql: &SqlStorage,
    query: &str,
    bindings: impl Into<Option<Vec<SqlStorageValue>>>,
) -> Result<worker::SqlCursor, ApiError> {
    sql.exec(query, bindings).map_err(error)
}

/// The rows a query reads.
pub fn select<T: DeserializeOwned>(
    sql: &SqlStorage,
    query: &str,
    bindings: impl Into<Option<Vec<SqlStorageValue>>>,
) -> Result<Vec<T>, ApiError> {
    exec(sql, query, bindings)?.to_array().map_err(error)
}

/// `rows` as one JSON array, for one `json_each(?)`: a statement takes at most 100 bound values, so many rows go
/// in as one.
pub fn json_rows<T: Serialize>(rows: &[T]) -> Result<SqlStorageValue, ApiError> {
    serde_json::to_string(rows)
        .map(Into::into)
        .map_err(|e| ApiError::internal(format!("SQL rows: {e}")))
}

/// `statement` once per chunk of `rows` (at most [`ROWS_PER_STATEMENT`]), each chunk bound as `?1`, then `extra`.
pub fn each_chunk<T: Serialize>(
    sql: &SqlStorage,
    statement: &str,
    rows: &[T],
    extra: &[SqlStorageValue],
) -> Result<(), ApiError> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut bindings = vec![json_rows(chunk)?];
        bindings.extend_from_slice(extra);
        exec(sql, statement, bindings)?;
    }
    Ok(())
}
