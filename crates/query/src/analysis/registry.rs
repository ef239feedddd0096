//! The one list of built-in analyses: name, help, parameters and the key columns of each result
//! table, declared once. The CLI (`analyze --list`, its help, flag checks), the API
//! (`GET /v1/analyses`), the result sink (upsert keys) and the docs test read it; dispatch
//! (`run_named`) is tested to know every name listed here.

use crate::error::QueryError;
use serde::Serialize;

/// One parameter of an analysis (its JSON name in the API, `--name` in the CLI).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Param {
    /// JSON field name.
    pub name: &'static str,
    /// What it means, with its default.
    pub help: &'static str,
}

/// One built-in analysis.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct AnalysisDef {
    /// Its name (`storepulse analyze NAME`, `POST /v1/analyses/NAME`).
    pub name: &'static str,
    /// One line on what it computes.
    pub help: &'static str,
    /// Its parameters besides the common `from`, `to` and `shop`.
    pub params: &'static [Param],
    /// Each result table's key columns (a row's identity); `*` for any table not named.
    pub keys: &'static [(&'static str, &'static [&'static str])],
}

impl AnalysisDef {
    /// The key columns of result table `table`.
    pub fn key_columns(&self, table: &str) -> &'static [&'static str] {
        self.keys
            .iter()
            .find(|(t, _)| *t == table)
            .or_else(|| self.keys.iter().find(|(t, _)| *t == "*"))
            .map_or(&[], |(_, k)| k)
    }

    /// Whether it takes parameter `name` (the common range parameters included).
    pub fn takes(&self, name: &str) -> bool {
        RANGE.iter().chain(self.params).any(|p| p.name == name)
    }
}

/// The parameters every analysis takes.
pub const RANGE: &[Param] = &[
    Param {
        name: "from",
        help: "first day, inclusive (YYYY-MM-DD; default: the first day in the lake)",
    },
    Param {
        name: "to",
        help: "last day, inclusive (default: the last day in the lake)",
    },
    Param {
        name: "shop",
        help: "only this shop (default: every shop the caller may read; the result says which)",
    },
];

const TABLE: Param = Param {
    name: "table",
    help: "the event table: behavior (default), order, page_view, login, ...",
};

/// Every built-in analysis.
pub const REGISTRY: &[AnalysisDef] = &[
    AnalysisDef {
        name: "kpis",
        help: "daily PV, UV, carts, buys, buyers, orders, GMV, AOV and conversion",
        params: &[],
        keys: &[("*", &["day"])],
    },
    AnalysisDef {
        name: "funnel",
        help: "ordered steps within a conversion window: conversion, drop-off, time to convert",
        params: &[
            TABLE,
            Param {
                name: "steps",
                help: "two or more steps: an action (`pv`), `column=value` or `action:column=value`",
            },
            Param {
                name: "window",
                help: "conversion window from the first step (`30min`, `1d`; default 1d)",
            },
            Param {
                name: "mode",
                help: "`ordered` (default: steps in order, other events between) or `strict` (each step the very next event)",
            },
            Param {
                name: "breakdown",
                help: "break down by this column's value on the first step",
            },
        ],
        keys: &[("breakdown", &["breakdown", "step"]), ("*", &["step"])],
    },
    AnalysisDef {
        name: "retention",
        help: "cohorts by first-seen or first-purchase day/week and their return rates",
        params: &[
            Param {
                name: "cohort",
                help: "`first_seen` (default) or `first_purchase`",
            },
            Param {
                name: "period",
                help: "`day` (default) or `week`",
            },
            Param {
                name: "returning",
                help: "the action that counts as returning (pv, cart, fav, buy; default: any event)",
            },
            Param {
                name: "periods",
                help: "periods after the first to report (default 7)",
            },
        ],
        keys: &[("counts", &["cohort", "period"]), ("*", &["cohort"])],
    },
    AnalysisDef {
        name: "rfm",
        help: "recency, frequency, monetary per customer with quintile scores and segments",
        params: &[
            Param {
                name: "as_of",
                help: "measure recency to this day (default: the day after the last order)",
            },
            Param {
                name: "customers",
                help: "include the per-customer table (default false)",
            },
        ],
        keys: &[("customers", &["shop", "user_id"]), ("*", &["segment"])],
    },
    AnalysisDef {
        name: "activity",
        help: "events and users by local hour of day and by weekday",
        params: &[],
        keys: &[("hours", &["hour"]), ("*", &["weekday"])],
    },
    AnalysisDef {
        name: "rankings",
        help: "top items or categories by views, carts, buys, users or conversion",
        params: &[
            Param {
                name: "by",
                help: "`item` (default) or `category`",
            },
            Param {
                name: "metric",
                help: "pv (default), cart, fav, buy, users or conversion",
            },
            Param {
                name: "top",
                help: "how many to return (default 20)",
            },
            Param {
                name: "min_views",
                help: "for conversion: only keys with at least this many views (default 100)",
            },
        ],
        keys: &[("*", &["rank"])],
    },
    AnalysisDef {
        name: "repeat",
        help: "repeat-purchase rate and purchases per customer",
        params: &[Param {
            name: "source",
            help: "where purchases come from: `orders` (paid orders) or `behavior` (buy events); default `auto`: orders when the lake has any",
        }],
        keys: &[("*", &["purchases"])],
    },
    AnalysisDef {
        name: "paths",
        help: "what users do next after a given step",
        params: &[
            TABLE,
            Param {
                name: "after",
                help: "the anchor step (same forms as funnel steps)",
            },
            Param {
                name: "by",
                help: "the column naming each next event (default: the table's action/status/url)",
            },
            Param {
                name: "depth",
                help: "events after the anchor to follow, 1-5 (default 1)",
            },
            Param {
                name: "max_gap",
                help: "a longer gap between two events ends the path (default 30min)",
            },
            Param {
                name: "top",
                help: "paths to return (default 10)",
            },
        ],
        keys: &[("*", &["rank"])],
    },
];

/// Every analysis name, in registry order.
pub fn names() -> impl Iterator<Item = &'static str> + Clone {
    REGISTRY.iter().map(|a| a.name)
}

/// The analysis called `name`, or an error naming the closest one and listing all.
pub fn find(name: &str) -> Result<&'static AnalysisDef, QueryError> {
    REGISTRY.iter().find(|a| a.name == name).ok_or_else(|| {
        QueryError::Invalid(format!(
            "unknown analysis {name:?}{}; available: {}",
            model::suggest::hint(name, names()),
            names().collect::<Vec<_>>().join(", ")
        ))
    })
}
