//! The input formats `storepulse import --format` understands.

use std::fmt;
use std::str::FromStr;

/// An input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Taobao UserBehavior CSV: `user_id,item_id,category_id,behavior,ts`, no header.
    Taobao,
    /// Access log: `ip - - dd/MM/yyyy:HH:mm:ss +0000 METHOD url`.
    AccessLog,
    /// `userId,adId,province,city,ts`.
    AdClick,
    /// `userId,ip,success|fail,ts`.
    Login,
    /// `orderId,create|pay,txId,ts`.
    Order,
    /// `txId,payChannel,ts`.
    Receipt,
    /// UCI Online Retail invoice lines (CSV with header).
    OnlineRetail,
    /// One JSON event per line; a JSON array is also accepted.
    Ndjson,
    /// CSV with a header row, mapped onto event fields.
    Csv,
    /// Parquet with event-field column names.
    Parquet,
}

impl Format {
    /// Every format, for help text.
    pub const ALL: [Format; 10] = [
        Format::Taobao,
        Format::AccessLog,
        Format::AdClick,
        Format::Login,
        Format::Order,
        Format::Receipt,
        Format::OnlineRetail,
        Format::Ndjson,
        Format::Csv,
        Format::Parquet,
    ];

    /// The CLI name.
    pub fn name(self) -> &'static str {
        match self {
            Format::Taobao => "taobao",
            Format::AccessLog => "access-log",
            Format::AdClick => "ad-click",
            Format::Login => "login",
            Format::Order => "order",
            Format::Receipt => "receipt",
            Format::OnlineRetail => "online-retail",
            Format::Ndjson => "ndjson",
            Format::Csv => "csv",
            Format::Parquet => "parquet",
        }
    }

    /// Whether rows are single lines that can be parsed in parallel chunks.
    pub fn is_line_based(self) -> bool {
        !matches!(self, Format::OnlineRetail | Format::Csv | Format::Parquet)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let norm = s.to_ascii_lowercase().replace('_', "-");
        let alias = match norm.as_str() {
            "json" | "jsonl" => "ndjson",
            "userbehavior" | "behavior" => "taobao",
            "apache" | "access" => "access-log",
            "adclick" | "ad" => "ad-click",
            "receipts" | "payment" => "receipt",
            "orders" => "order",
            "retail" => "online-retail",
            other => other,
        };
        if let Some(f) = Format::ALL.into_iter().find(|f| f.name() == alias) {
            return Ok(f);
        }
        let names: Vec<_> = Format::ALL.iter().map(|f| f.name()).collect();
        let hint = model::suggest::hint(&norm, names.iter().copied());
        Err(format!(
            "unknown format {s:?}{hint}; expected one of {}",
            names.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_get_a_suggestion() {
        for f in Format::ALL {
            assert_eq!(f.name().parse::<Format>(), Ok(f));
        }
        assert_eq!("JSON".parse::<Format>(), Ok(Format::Ndjson));
        for typo in ["taobo", "tabao"] {
            let e = typo.parse::<Format>().unwrap_err();
            assert!(e.contains("did you mean taobao"), "{e}");
        }
    }
}
