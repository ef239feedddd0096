//! Every mining task, declared once: name, help, parameters and each result table's key
//! columns. The CLI (`storepulse mine --list`, its help), the API (`GET /v1/mining`,
//! `POST /v1/mining/{task}`), the results table and the sink read this list.

use crate::MineError;
use crate::source::Ctx;
use query::analysis::Analysis;
use serde::Serialize;
use serde_json::Value;

/// One parameter of a task.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Param {
    /// Its JSON name (the CLI flag is `--name` with `-` for `_`).
    pub name: &'static str,
    /// What it does, with its default.
    pub help: &'static str,
}

/// One mining task.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct TaskDef {
    /// Its name (`storepulse mine NAME`, `POST /v1/mining/NAME`).
    pub name: &'static str,
    /// One line on what it finds.
    pub help: &'static str,
    /// The parameters it shares with other tasks: [`SOURCE`] (an input table) or [`RANGE`]
    /// (days and shop of the lake).
    pub common: &'static [Param],
    /// Its own parameters.
    pub params: &'static [Param],
    /// Each result table's key columns (a row's identity).
    pub keys: &'static [(&'static str, &'static [&'static str])],
}

impl TaskDef {
    /// Every parameter it takes: the common ones, then its own.
    pub fn all_params(&self) -> impl Iterator<Item = &'static Param> {
        self.common.iter().chain(self.params)
    }

    /// The key columns of result table `table` (empty when it has none).
    pub fn key_columns(&self, table: &str) -> &'static [&'static str] {
        self.keys
            .iter()
            .find(|(t, _)| *t == table)
            .map_or(&[], |(_, k)| k)
    }
}

/// The input of a generic task.
pub const SOURCE: &[Param] = &[
    Param {
        name: "sql",
        help: "SQL over the lake giving the input table",
    },
    Param {
        name: "data",
        help: "a CSV (header row) or Parquet file (CLI only)",
    },
    Param {
        name: "categorical",
        help: "columns to treat as labels although they hold numbers",
    },
    Param {
        name: "numeric",
        help: "columns that must be numbers",
    },
    Param {
        name: "max_rows",
        help: "refuse inputs with more rows (default 5,000,000)",
    },
];

/// Days and shop of a task over the lake.
pub const RANGE: &[Param] = &[
    Param {
        name: "from",
        help: "first day (YYYY-MM-DD)",
    },
    Param {
        name: "to",
        help: "last day",
    },
    Param {
        name: "shop",
        help: "only this shop (default: each shop on its own)",
    },
];

/// Every task.
pub const REGISTRY: &[TaskDef] = &[
    TaskDef {
        name: "cluster",
        help: "k-means (sklearn KMeans), k-medoids (FasterPAM) or DBSCAN (sklearn) on a table's numeric columns",
        common: SOURCE,
        params: &[
            Param {
                name: "algo",
                help: "kmeans (default), kmedoids or dbscan",
            },
            Param {
                name: "k",
                help: "clusters; k-means picks it by silhouette when absent",
            },
            Param {
                name: "k_max",
                help: "largest k tried when choosing (default 8)",
            },
            Param {
                name: "features",
                help: "feature columns (default: every numeric column)",
            },
            Param {
                name: "id",
                help: "a column naming each row in the labels (default: row numbers)",
            },
            Param {
                name: "transform",
                help: "none, standardize (default), log or log-standardize",
            },
            Param {
                name: "n_init",
                help: "k-means restarts (default 10)",
            },
            Param {
                name: "seed",
                help: "seed of k-means++ (default 0)",
            },
            Param {
                name: "eps",
                help: "DBSCAN radius, in transformed units",
            },
            Param {
                name: "min_samples",
                help: "DBSCAN core size, the point itself included (default 5)",
            },
            Param {
                name: "metric",
                help: "k-medoids/DBSCAN distance: euclidean (default), manhattan, cosine",
            },
        ],
        keys: &[("clusters", &["cluster"]), ("labels", &["id"])],
    },
    TaskDef {
        name: "rules",
        help: "frequent itemsets and association rules (FP-growth, Apriori or Eclat; mlxtend's metrics)",
        common: SOURCE,
        params: &[
            Param {
                name: "baskets",
                help: "a basket file: one transaction per line, items separated by commas (CLI only)",
            },
            Param {
                name: "tx",
                help: "transaction column of a table input (default: the first)",
            },
            Param {
                name: "item",
                help: "item column of a table input (default: the second)",
            },
            Param {
                name: "algo",
                help: "fpgrowth (default), apriori or eclat",
            },
            Param {
                name: "min_support",
                help: "smallest share of transactions (default 0.01)",
            },
            Param {
                name: "metric",
                help: "confidence (default), lift, leverage, conviction or support",
            },
            Param {
                name: "min_threshold",
                help: "the metric's smallest value (default 0.5)",
            },
            Param {
                name: "max_len",
                help: "longest itemset (default: any)",
            },
            Param {
                name: "single_consequent",
                help: "one item on the right of a rule (as R arules)",
            },
            Param {
                name: "limit",
                help: "rules listed at most (default 1000)",
            },
        ],
        keys: &[
            ("rules", &["antecedent", "consequent"]),
            ("itemsets", &["itemset"]),
        ],
    },
    TaskDef {
        name: "tree",
        help: "a decision tree (C4.5 as Weka J48, or ID3) predicting a column from the others",
        common: SOURCE,
        params: &[
            Param {
                name: "target",
                help: "the column to predict (required)",
            },
            Param {
                name: "algo",
                help: "c45 (default) or id3",
            },
            Param {
                name: "features",
                help: "attribute columns (default: every other column)",
            },
            Param {
                name: "confidence",
                help: "pruning confidence factor (default 0.25)",
            },
            Param {
                name: "min_leaf",
                help: "smallest leaf (default 2)",
            },
            Param {
                name: "unpruned",
                help: "grow without pruning",
            },
            Param {
                name: "no_subtree_raising",
                help: "prune without subtree raising",
            },
            Param {
                name: "test_share",
                help: "share of rows held out to measure accuracy (default 0)",
            },
            Param {
                name: "seed",
                help: "seed of the held-out split (default 0)",
            },
        ],
        keys: &[("tree", &[]), ("confusion", &["actual", "predicted"])],
    },
    TaskDef {
        name: "segments",
        help: "customer segments per shop: RFM → k-means (k by silhouette) → named profiles with revenue shares",
        common: RANGE,
        params: &[
            Param {
                name: "k",
                help: "segments per shop (default: chosen by silhouette)",
            },
            Param {
                name: "k_max",
                help: "largest k tried (default 6)",
            },
            Param {
                name: "n_init",
                help: "k-means restarts (default 10)",
            },
            Param {
                name: "seed",
                help: "seed of k-means++ (default 0)",
            },
            Param {
                name: "customers",
                help: "list every customer with their segment",
            },
            Param {
                name: "sql",
                help: "own features instead of RFM: SQL giving user_id, optionally shop, and numeric columns",
            },
        ],
        keys: &[
            ("segments", &["shop", "segment"]),
            ("customers", &["shop", "user_id"]),
        ],
    },
    TaskDef {
        name: "baskets",
        help: "products bought together per shop: rules from orders (or behaviour sessions), named by catalog titles",
        common: RANGE,
        params: &[
            Param {
                name: "from_table",
                help: "orders (default: an order's items) or sessions (a user's day)",
            },
            Param {
                name: "actions",
                help: "behaviour actions of a session basket (default buy, cart)",
            },
            Param {
                name: "min_support",
                help: "smallest share of baskets (default 0.01)",
            },
            Param {
                name: "min_confidence",
                help: "smallest confidence (default 0.5)",
            },
            Param {
                name: "max_len",
                help: "longest itemset (default: any)",
            },
            Param {
                name: "single_consequent",
                help: "one item on the right of a rule",
            },
            Param {
                name: "limit",
                help: "rules listed per shop (default 100)",
            },
        ],
        keys: &[
            ("rules", &["shop", "antecedent", "consequent"]),
            ("itemsets", &["shop", "itemset"]),
        ],
    },
    TaskDef {
        name: "hour-category",
        help: "when which categories sell: categories grouped by their hour-of-day profile (k-means), with peak and busy hours",
        common: RANGE,
        params: &[
            Param {
                name: "action",
                help: "behaviour action counted (default buy; all for every action)",
            },
            Param {
                name: "min_events",
                help: "categories with fewer events are left out (default 30)",
            },
            Param {
                name: "k",
                help: "groups per shop (default: chosen by silhouette)",
            },
            Param {
                name: "k_max",
                help: "largest k tried (default 6)",
            },
            Param {
                name: "seed",
                help: "seed of k-means++ (default 0)",
            },
        ],
        keys: &[
            ("groups", &["shop", "group"]),
            ("categories", &["shop", "category"]),
        ],
    },
    TaskDef {
        name: "drivers",
        help: "what separates customers who buy again: a J48 tree over customer features before a day, tested on held-out customers",
        common: &[],
        params: &[
            Param {
                name: "shop",
                help: "the shop (required when the lake holds several)",
            },
            Param {
                name: "as_of",
                help: "the day features are taken before (default: horizon_days before the last purchase)",
            },
            Param {
                name: "horizon_days",
                help: "days after as_of in which a purchase means yes (default 30)",
            },
            Param {
                name: "test_share",
                help: "share of customers held out (default 0.3)",
            },
            Param {
                name: "seed",
                help: "seed of the held-out split (default 0)",
            },
            Param {
                name: "confidence",
                help: "pruning confidence factor (default 0.25)",
            },
            Param {
                name: "min_leaf",
                help: "smallest leaf (default 5)",
            },
        ],
        keys: &[("tree", &[]), ("confusion", &["actual", "predicted"])],
    },
];

/// The task named `name`, or an error with a "did you mean" and the list.
pub fn find(name: &str) -> Result<&'static TaskDef, MineError> {
    REGISTRY.iter().find(|t| t.name == name).ok_or_else(|| {
        MineError::Usage(format!(
            "no mining task {name:?}{}; available: {}",
            model::suggest::hint(name, names()),
            names().collect::<Vec<_>>().join(", ")
        ))
    })
}

/// The tasks' names.
pub fn names() -> impl Iterator<Item = &'static str> {
    REGISTRY.iter().map(|t| t.name)
}

/// Runs task `name` with JSON parameters.
pub async fn run_named(ctx: &Ctx<'_>, name: &str, params: Value) -> Result<Analysis, MineError> {
    let def = find(name)?;
    match def.name {
        "cluster" => crate::tasks::cluster::run(ctx, params).await,
        "rules" => crate::tasks::rules::run(ctx, params).await,
        "tree" => crate::tasks::tree::run(ctx, params).await,
        "segments" => crate::tasks::segments::run(ctx, params).await,
        "baskets" => crate::tasks::baskets::run(ctx, params).await,
        "hour-category" => crate::tasks::hour_category::run(ctx, params).await,
        "drivers" => crate::tasks::drivers::run(ctx, params).await,
        other => Err(MineError::Internal(format!("task {other} has no runner"))),
    }
}
