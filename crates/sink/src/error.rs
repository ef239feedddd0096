//! What can go wrong when connecting or writing, each variant pointing at its cause.

/// Why a sink could not connect or a table could not be written.
///
/// Every error of [`Sink::write`](crate::Sink::write) leaves the table's rows as they were: the
/// input is checked before anything is sent, and the rows go in one transaction.
#[derive(thiserror::Error, Debug)]
#[non_exhaustive]
pub enum SinkError {
    /// The URL names a database this crate does not write to.
    #[error(
        "unsupported database URL scheme {scheme:?}: use mysql://, mariadb://, postgres:// or \
         postgresql:// (for example postgres://user@127.0.0.1:5432/dbname)"
    )]
    UnsupportedUrl {
        /// The scheme as written, without `://`.
        scheme: String,
    },
    /// The URL could not be parsed (the message never repeats the password).
    #[error("invalid {kind} URL: {err}")]
    BadUrl {
        /// `mysql` or `postgres`.
        kind: &'static str,
        /// The driver's complaint.
        err: sqlx::Error,
    },
    /// No session could be opened: server down, wrong port, credentials or database.
    #[error(
        "cannot connect to {kind} at {target}: {err}. Check that the server is running and \
         listening there ({hint}) and that the URL's user, password and database are right"
    )]
    Connect {
        /// `mysql` or `postgres`.
        kind: &'static str,
        /// Host, port, user and database (no password).
        target: String,
        /// A command that checks the server.
        hint: String,
        /// What the driver reported.
        err: sqlx::Error,
    },
    /// The server answered but is not usable as configured (e.g. the URL names no database).
    #[error("{kind} at {target} cannot be used: {reason}")]
    Server {
        /// `mysql` or `postgres`.
        kind: &'static str,
        /// Host, port, user and database (no password).
        target: String,
        /// What to change.
        reason: String,
    },
    /// A table, column or prefix name that is not a plain identifier.
    #[error(
        "{what} {name:?} is not a valid identifier: use 1 to 63 ASCII letters, digits or \
         underscores, not starting with a digit"
    )]
    BadIdentifier {
        /// `table name`, `column name` or `table prefix`.
        what: &'static str,
        /// The name as given (with the prefix, for tables).
        name: String,
    },
    /// The table lists no key columns.
    #[error("table {table:?} has no key columns: list the columns that identify a row")]
    NoKey {
        /// The table, with its prefix.
        table: String,
    },
    /// A key column is not one of the table's columns.
    #[error("key column {column:?} of table {table:?} is not one of its columns ({columns})")]
    UnknownKey {
        /// The table, with its prefix.
        table: String,
        /// The key column as given.
        column: String,
        /// The table's columns, comma-separated.
        columns: String,
    },
    /// A column (or key column) is named twice.
    #[error(
        "column {column:?} is listed twice in table {table:?} (names are compared ignoring case)"
    )]
    DuplicateColumn {
        /// The table, with its prefix.
        table: String,
        /// The repeated name.
        column: String,
    },
    /// A row's length differs from the number of columns.
    #[error("row {row} of table {table:?} has {found} values but the table has {expected} columns")]
    RowLength {
        /// The table, with its prefix.
        table: String,
        /// Index of the row in [`SinkTable::rows`](crate::SinkTable::rows).
        row: usize,
        /// Number of columns.
        expected: usize,
        /// Number of values in the row.
        found: usize,
    },
    /// A key column holds null: the row has no identity.
    #[error(
        "row {row} of table {table:?} has a null in key column {column:?}; key columns identify \
         a row and cannot be null (nothing was written)"
    )]
    NullKey {
        /// The table, with its prefix.
        table: String,
        /// Index of the row in [`SinkTable::rows`](crate::SinkTable::rows).
        row: usize,
        /// The key column.
        column: String,
    },
    /// A value does not fit its column's type (e.g. text in an existing BIGINT column).
    #[error(
        "row {row} of table {table:?}, column {column:?}: cannot write {value}: {reason} (nothing was written)"
    )]
    BadValue {
        /// The table, with its prefix.
        table: String,
        /// Index of the row in [`SinkTable::rows`](crate::SinkTable::rows).
        row: usize,
        /// The column.
        column: String,
        /// The value as JSON, cut to 80 characters.
        value: String,
        /// Why, and what the column holds.
        reason: String,
    },
    /// The table exists with another primary key, so upserts would not find the rows.
    #[error(
        "table {table:?} exists with primary key ({existing}) but the write's key is \
         ({requested}): write with the same key columns, or drop or rename the table"
    )]
    KeyMismatch {
        /// The table, with its prefix.
        table: String,
        /// The table's primary key columns, comma-separated, or `none`.
        existing: String,
        /// The key of the write, comma-separated.
        requested: String,
    },
    /// The database refused a statement; the transaction was rolled back.
    #[error("{kind} failed to {action} table {table:?}: {err}")]
    Database {
        /// `mysql` or `postgres`.
        kind: &'static str,
        /// The table, with its prefix.
        table: String,
        /// What was being done, e.g. `create`, `upsert rows 0..13107 of`.
        action: String,
        /// What the server or driver reported.
        err: sqlx::Error,
    },
}
