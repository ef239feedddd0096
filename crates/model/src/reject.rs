//! Why a row was refused.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The kind of problem, as a stable code users can filter the quarantine by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The line has the wrong number of columns.
    ColumnCount,
    /// A number could not be parsed.
    BadNumber,
    /// The timestamp could not be parsed.
    BadTimestamp,
    /// The timestamp is outside the configured plausible range.
    TsOutOfRange,
    /// The action (or status/result) is not one of the known values.
    UnknownAction,
    /// A required field is absent or empty.
    MissingField,
    /// The event type is not known.
    UnknownType,
    /// A field has a value of the wrong kind or an impossible value.
    BadValue,
    /// The row is not valid JSON / CSV / UTF-8, or does not match the format's line shape.
    Malformed,
    /// An event with the same `event_id` was already accepted for this shop.
    Duplicate,
    /// A JSON event object names the same key twice (which value was meant is unknowable).
    DuplicateField,
}

impl Reason {
    /// The stable snake_case code.
    pub fn code(self) -> &'static str {
        match self {
            Reason::ColumnCount => "column_count",
            Reason::BadNumber => "bad_number",
            Reason::BadTimestamp => "bad_timestamp",
            Reason::TsOutOfRange => "ts_out_of_range",
            Reason::UnknownAction => "unknown_action",
            Reason::MissingField => "missing_field",
            Reason::UnknownType => "unknown_type",
            Reason::BadValue => "bad_value",
            Reason::Malformed => "malformed",
            Reason::Duplicate => "duplicate",
            Reason::DuplicateField => "duplicate_field",
        }
    }

    /// Every reason, for listings and help text.
    pub const ALL: [Reason; 11] = [
        Reason::ColumnCount,
        Reason::BadNumber,
        Reason::BadTimestamp,
        Reason::TsOutOfRange,
        Reason::UnknownAction,
        Reason::MissingField,
        Reason::UnknownType,
        Reason::BadValue,
        Reason::Malformed,
        Reason::Duplicate,
        Reason::DuplicateField,
    ];

    /// Looks a code up (`"bad_number"` → [`Reason::BadNumber`]).
    pub fn from_code(code: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.code() == code)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A precise rejection: which rule a field's value broke.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reject {
    /// The kind of problem.
    pub reason: Reason,
    /// The field (or column) at fault, when one is.
    pub field: Option<String>,
    /// The offending value as written (truncated to 200 bytes).
    pub value: Option<String>,
    /// The rule that was broken, in words.
    pub rule: String,
}

impl Reject {
    /// A rejection about one field's value.
    pub fn field(reason: Reason, field: &str, value: &str, rule: impl Into<String>) -> Reject {
        Reject {
            reason,
            field: Some(field.to_string()),
            value: Some(clip(value)),
            rule: rule.into(),
        }
    }

    /// A rejection about the row as a whole.
    pub fn row(reason: Reason, rule: impl Into<String>) -> Reject {
        Reject {
            reason,
            field: None,
            value: None,
            rule: rule.into(),
        }
    }

    /// A key a JSON object names more than once (`props.k` for a key of `props`).
    pub fn duplicate_field(field: &str) -> Reject {
        Reject {
            reason: Reason::DuplicateField,
            field: Some(field.to_string()),
            value: None,
            rule: format!(
                "the key {field} appears more than once in the event object; name each key once"
            ),
        }
    }

    /// A required field that is absent or empty.
    pub fn missing(field: &str) -> Reject {
        Reject {
            reason: Reason::MissingField,
            field: Some(field.to_string()),
            value: None,
            rule: format!("{field} is required"),
        }
    }
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.reason)?;
        if let Some(field) = &self.field {
            write!(f, ": {field}")?;
        }
        if let Some(v) = &self.value {
            write!(f, "={v:?}")?;
        }
        write!(f, " ({})", self.rule)
    }
}

fn clip(v: &str) -> String {
    if v.len() <= 200 {
        return v.to_string();
    }
    let mut end = 200;
    while !v.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &v[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_display_names_field_value_rule() {
        for r in Reason::ALL {
            assert_eq!(Reason::from_code(r.code()), Some(r));
        }
        let r = Reject::field(Reason::BadNumber, "user_id", "12x", "must be an id");
        assert_eq!(r.to_string(), "bad_number: user_id=\"12x\" (must be an id)");
    }

    #[test]
    fn long_values_are_clipped_on_a_char_boundary() {
        let v = "é".repeat(300);
        let r = Reject::field(Reason::BadValue, "f", &v, "x");
        assert!(r.value.unwrap().len() <= 204);
    }
}
