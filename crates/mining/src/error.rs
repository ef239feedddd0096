//! Errors a caller can show a user as they are: each names the column, row or parameter at fault
//! and what would fix it.

/// What went wrong.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MiningError {
    /// The input has no rows (or no columns).
    #[error("the input table is empty: {0}")]
    Empty(String),
    /// More clusters (or medoids) were asked for than there are rows.
    #[error("k = {k} is larger than the {rows} rows of the input; ask for at most {rows} clusters")]
    TooFewRows {
        /// Clusters asked for.
        k: usize,
        /// Rows there are.
        rows: usize,
    },
    /// A value that should be a number is not.
    #[error(
        "column {column:?}, row {row}: {value:?} is not a number (a numeric feature; declare the column categorical if it is a label)"
    )]
    NotNumeric {
        /// Column name.
        column: String,
        /// 1-based row number.
        row: usize,
        /// The value found.
        value: String,
    },
    /// A value is missing where the algorithm cannot take one.
    #[error(
        "column {column:?}, row {row}: the value is missing; {what} needs every value (filter or fill the row)"
    )]
    Missing {
        /// Column name.
        column: String,
        /// 1-based row number.
        row: usize,
        /// The algorithm.
        what: String,
    },
    /// The target has fewer than two classes.
    #[error("the target {column:?} has only one class ({class:?}): there is nothing to separate")]
    OneClass {
        /// Target column.
        column: String,
        /// Its only class.
        class: String,
    },
    /// A parameter is out of its range.
    #[error("{name}: {message}")]
    BadParameter {
        /// Parameter name as the user spells it (`k`, `eps`, `min_support`).
        name: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// A column named in the request does not exist.
    #[error("no column {name:?}; columns: {available}")]
    NoColumn {
        /// The name asked for.
        name: String,
        /// The columns there are.
        available: String,
    },
}

impl MiningError {
    /// A [`MiningError::BadParameter`].
    pub fn param(name: &str, message: impl Into<String>) -> MiningError {
        MiningError::BadParameter {
            name: name.to_string(),
            message: message.into(),
        }
    }
}
