//! SQL text for both databases. Identifiers were checked by `plan::check_identifier`, so quoting
//! never needs escaping; values are always placeholders.

use std::fmt::Write;

use crate::plan::{ColumnPlan, Kind};

/// Which SQL to speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    MySql,
    Postgres,
}

impl Dialect {
    pub fn name(self) -> &'static str {
        match self {
            Dialect::MySql => "mysql",
            Dialect::Postgres => "postgres",
        }
    }

    fn quote(self, out: &mut String, id: &str) {
        let q = match self {
            Dialect::MySql => '`',
            Dialect::Postgres => '"',
        };
        out.push(q);
        out.push_str(id);
        out.push(q);
    }

    /// The type of a new column. MySQL primary keys need a bounded length, hence VARCHAR (255
    /// characters, less when several text keys must share InnoDB's 3072-byte key limit),
    /// with a binary no-pad collation so that keys differing in case or trailing spaces stay
    /// distinct rows, as they are in Postgres.
    fn column_def(self, out: &mut String, c: &ColumnPlan, key_collation: Option<&str>) {
        self.quote(out, &c.name);
        match (self, c.kind) {
            (_, Kind::Int) => out.push_str(" BIGINT"),
            (Dialect::MySql, Kind::Float) => out.push_str(" DOUBLE"),
            (Dialect::Postgres, Kind::Float) => out.push_str(" DOUBLE PRECISION"),
            (_, Kind::Bool) => out.push_str(" BOOLEAN"),
            (Dialect::MySql, Kind::Text) if c.is_key => {
                let n = c.max_chars.unwrap_or(255);
                let _ = write!(out, " VARCHAR({n}) CHARACTER SET utf8mb4");
            }
            (_, Kind::Text) => out.push_str(" TEXT"),
        }
        if let (Dialect::MySql, true, Kind::Text, Some(collation)) =
            (self, c.is_key, c.kind, key_collation)
        {
            let _ = write!(out, " COLLATE {collation}");
        }
        if c.is_key {
            out.push_str(" NOT NULL");
        }
    }

    /// `CREATE TABLE IF NOT EXISTS` with every column and the key as primary key.
    pub fn create_table(
        self,
        table: &str,
        columns: &[ColumnPlan],
        key_collation: Option<&str>,
    ) -> String {
        let mut s = String::from("CREATE TABLE IF NOT EXISTS ");
        self.quote(&mut s, table);
        s.push_str(" (");
        for c in columns {
            self.column_def(&mut s, c, key_collation);
            s.push_str(", ");
        }
        s.push_str("PRIMARY KEY (");
        self.list(&mut s, columns.iter().filter(|c| c.is_key), |s, c| {
            self.quote(s, &c.name)
        });
        s.push(')');
        s.push(')');
        if self == Dialect::MySql {
            s.push_str(" DEFAULT CHARSET=utf8mb4");
        }
        s
    }

    /// `ALTER TABLE … ADD COLUMN` for a new, nullable column.
    pub fn add_column(self, table: &str, c: &ColumnPlan, key_collation: Option<&str>) -> String {
        let mut s = String::from("ALTER TABLE ");
        self.quote(&mut s, table);
        s.push_str(" ADD COLUMN ");
        if self == Dialect::Postgres {
            // Two writers adding the same column at once should both succeed.
            s.push_str("IF NOT EXISTS ");
        }
        self.column_def(&mut s, c, key_collation);
        s
    }

    /// A multi-row upsert of `rows` rows, parameters row by row in column order.
    pub fn upsert(self, table: &str, columns: &[ColumnPlan], rows: usize) -> String {
        let mut s = String::with_capacity(64 + rows * columns.len() * 8);
        s.push_str("INSERT INTO ");
        self.quote(&mut s, table);
        s.push_str(" (");
        self.list(&mut s, columns.iter(), |s, c| self.quote(s, &c.name));
        s.push_str(") VALUES ");
        let mut n = 0usize;
        for r in 0..rows {
            if r > 0 {
                s.push(',');
            }
            s.push('(');
            self.list(&mut s, columns.iter(), |s, c| {
                n += 1;
                match (self, &c.cast) {
                    (Dialect::MySql, _) => s.push('?'),
                    (Dialect::Postgres, None) => {
                        let _ = write!(s, "${n}");
                    }
                    (Dialect::Postgres, Some(ty)) => {
                        let _ = write!(s, "CAST(${n} AS {ty})");
                    }
                }
            });
            s.push(')');
        }
        let updated: Vec<&ColumnPlan> = columns.iter().filter(|c| !c.is_key).collect();
        match self {
            Dialect::Postgres => {
                s.push_str(" ON CONFLICT (");
                self.list(&mut s, columns.iter().filter(|c| c.is_key), |s, c| {
                    self.quote(s, &c.name)
                });
                if updated.is_empty() {
                    s.push_str(") DO NOTHING");
                } else {
                    s.push_str(") DO UPDATE SET ");
                    self.list(&mut s, updated.iter(), |s, c| {
                        self.quote(s, &c.name);
                        s.push_str(" = EXCLUDED.");
                        self.quote(s, &c.name);
                    });
                }
            }
            Dialect::MySql => {
                s.push_str(" ON DUPLICATE KEY UPDATE ");
                // With only key columns, a no-op assignment keeps the statement valid.
                let set = if updated.is_empty() {
                    columns.iter().filter(|c| c.is_key).take(1).collect()
                } else {
                    updated
                };
                self.list(&mut s, set.iter(), |s, c| {
                    self.quote(s, &c.name);
                    s.push_str(" = VALUES(");
                    self.quote(s, &c.name);
                    s.push(')');
                });
            }
        }
        s
    }

    fn list<T>(
        self,
        s: &mut String,
        items: impl Iterator<Item = T>,
        mut each: impl FnMut(&mut String, T),
    ) {
        for (i, item) in items.enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            each(s, item);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SinkTable;
    use crate::plan::{Rules, build};
    use serde_json::json;

    fn columns() -> Vec<ColumnPlan> {
        let t = SinkTable {
            name: "t".into(),
            columns: vec![
                "shop".into(),
                "day".into(),
                "n".into(),
                "avg".into(),
                "ok".into(),
            ],
            key: vec!["shop".into(), "day".into()],
            rows: vec![vec![
                json!("a"),
                json!(1),
                json!(2),
                json!(2.5),
                json!(true),
            ]],
        };
        let rules = Rules {
            names_ignore_case: true,
            new_text_key_chars: Some(255),
            text_rejects_nul: false,
        };
        build(&t, "p_t", None, rules).unwrap().columns
    }

    #[test]
    fn postgres_statements() {
        let c = columns();
        assert_eq!(
            Dialect::Postgres.create_table("p_t", &c, None),
            "CREATE TABLE IF NOT EXISTS \"p_t\" (\"shop\" TEXT NOT NULL, \"day\" BIGINT NOT NULL, \
             \"n\" BIGINT, \"avg\" DOUBLE PRECISION, \"ok\" BOOLEAN, PRIMARY KEY (\"shop\", \"day\"))"
        );
        assert_eq!(
            Dialect::Postgres.upsert("p_t", &c[..3], 2),
            "INSERT INTO \"p_t\" (\"shop\", \"day\", \"n\") VALUES ($1, $2, $3),($4, $5, $6) \
             ON CONFLICT (\"shop\", \"day\") DO UPDATE SET \"n\" = EXCLUDED.\"n\""
        );
        assert!(
            Dialect::Postgres
                .upsert("p_t", &c[..2], 1)
                .ends_with("DO NOTHING")
        );
        let mut cast = c[2].clone();
        cast.cast = Some("\"pg_catalog\".\"numeric\"".into());
        assert!(
            Dialect::Postgres
                .upsert("p_t", &[cast], 1)
                .contains("(CAST($1 AS \"pg_catalog\".\"numeric\"))")
        );
        assert_eq!(
            Dialect::Postgres.add_column("p_t", &c[3], None),
            "ALTER TABLE \"p_t\" ADD COLUMN IF NOT EXISTS \"avg\" DOUBLE PRECISION"
        );
    }

    #[test]
    fn mysql_statements() {
        let c = columns();
        assert_eq!(
            Dialect::MySql.create_table("p_t", &c, Some("utf8mb4_nopad_bin")),
            "CREATE TABLE IF NOT EXISTS `p_t` (`shop` VARCHAR(255) CHARACTER SET utf8mb4 COLLATE \
             utf8mb4_nopad_bin NOT NULL, `day` BIGINT NOT NULL, `n` BIGINT, `avg` DOUBLE, `ok` BOOLEAN, \
             PRIMARY KEY (`shop`, `day`)) DEFAULT CHARSET=utf8mb4"
        );
        assert_eq!(
            Dialect::MySql.upsert("p_t", &c[..3], 2),
            "INSERT INTO `p_t` (`shop`, `day`, `n`) VALUES (?, ?, ?),(?, ?, ?) \
             ON DUPLICATE KEY UPDATE `n` = VALUES(`n`)"
        );
        assert!(
            Dialect::MySql
                .upsert("p_t", &c[..2], 1)
                .ends_with("UPDATE `shop` = VALUES(`shop`)")
        );
        assert_eq!(
            Dialect::MySql.add_column("p_t", &c[4], None),
            "ALTER TABLE `p_t` ADD COLUMN `ok` BOOLEAN"
        );
    }
}
