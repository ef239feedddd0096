//! `storepulse mine`'s arguments: the task, its input and every task's flags. Which flag a task
//! takes is declared in the mining registry (`mine::registry`); the command refuses the others.

use clap::Args;
use std::path::PathBuf;

/// `storepulse mine`.
#[derive(Debug, Args)]
pub struct MineArgs {
    /// The task (`--list` shows each with its parameters).
    #[arg(required_unless_present = "list", help = task_help())]
    pub task: Option<String>,
    /// List the tasks and exit.
    #[arg(long)]
    pub list: bool,
    /// Input: SQL over the lake (segments: own per-customer features instead of RFM).
    #[arg(long)]
    pub sql: Option<String>,
    /// Input: a CSV (header row) or Parquet file.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Input of rules: a basket file (one transaction per line, items separated by commas).
    #[arg(long)]
    pub baskets: Option<PathBuf>,
    /// Columns to treat as labels although they hold numbers.
    #[arg(long, value_delimiter = ',')]
    pub categorical: Vec<String>,
    /// Columns that must be numbers.
    #[arg(long, value_delimiter = ',')]
    pub numeric: Vec<String>,
    /// Refuse inputs with more rows than this.
    #[arg(long)]
    pub max_rows: Option<usize>,
    /// The algorithm: kmeans|kmedoids|dbscan, fpgrowth|apriori|eclat, c45|id3.
    #[arg(long)]
    pub algo: Option<String>,
    /// Clusters.
    #[arg(long, short)]
    pub k: Option<usize>,
    /// Largest k tried when choosing k by silhouette.
    #[arg(long)]
    pub k_max: Option<usize>,
    /// Feature (attribute) columns.
    #[arg(long, value_delimiter = ',')]
    pub features: Vec<String>,
    /// A column naming each row in the labels.
    #[arg(long)]
    pub id: Option<String>,
    /// none, standardize, log or log-standardize.
    #[arg(long)]
    pub transform: Option<String>,
    /// k-means restarts.
    #[arg(long)]
    pub n_init: Option<usize>,
    /// Seed (k-means++, held-out split).
    #[arg(long)]
    pub seed: Option<u64>,
    /// DBSCAN radius.
    #[arg(long)]
    pub eps: Option<f64>,
    /// DBSCAN core size (the point itself included).
    #[arg(long)]
    pub min_samples: Option<usize>,
    /// Distance: euclidean, manhattan, cosine (k-medoids, DBSCAN); for rules, the thresholded
    /// metric: confidence, lift, leverage, conviction, support.
    #[arg(long)]
    pub metric: Option<String>,
    /// Transaction column of a table input (rules).
    #[arg(long)]
    pub tx: Option<String>,
    /// Item column of a table input (rules).
    #[arg(long)]
    pub item: Option<String>,
    /// Smallest share of transactions of a frequent itemset.
    #[arg(long)]
    pub min_support: Option<f64>,
    /// The rule metric's smallest value.
    #[arg(long)]
    pub min_threshold: Option<f64>,
    /// Smallest confidence (sets the metric to confidence).
    #[arg(long, conflicts_with_all = ["metric", "min_threshold"])]
    pub min_confidence: Option<f64>,
    /// Longest itemset.
    #[arg(long)]
    pub max_len: Option<usize>,
    /// One item on the right of a rule (as R arules).
    #[arg(long)]
    pub single_consequent: bool,
    /// Rules listed at most.
    #[arg(long)]
    pub limit: Option<usize>,
    /// The column a tree predicts.
    #[arg(long)]
    pub target: Option<String>,
    /// Pruning confidence factor (J48 -C).
    #[arg(long)]
    pub confidence: Option<f32>,
    /// Smallest leaf (J48 -M).
    #[arg(long)]
    pub min_leaf: Option<usize>,
    /// Grow the tree without pruning.
    #[arg(long)]
    pub unpruned: bool,
    /// Prune without subtree raising.
    #[arg(long)]
    pub no_subtree_raising: bool,
    /// Share of rows held out to measure accuracy.
    #[arg(long)]
    pub test_share: Option<f64>,
    /// First day (YYYY-MM-DD, inclusive) of segments and baskets.
    #[arg(long)]
    pub from: Option<String>,
    /// Last day (inclusive).
    #[arg(long)]
    pub to: Option<String>,
    /// Only this shop.
    #[arg(long)]
    pub shop: Option<String>,
    /// List every customer with their segment.
    #[arg(long)]
    pub customers: bool,
    /// Baskets from `orders` (an order's items) or `sessions` (a user's day of --actions).
    #[arg(long)]
    pub from_table: Option<String>,
    /// Behaviour actions of a session basket, e.g. buy,cart.
    #[arg(long, value_delimiter = ',')]
    pub actions: Vec<String>,
    /// The behaviour action counted by hour-category (buy, cart, pv, fav or all).
    #[arg(long)]
    pub action: Option<String>,
    /// Categories with fewer events are left out (hour-category).
    #[arg(long)]
    pub min_events: Option<u64>,
    /// The day features are taken before (drivers).
    #[arg(long)]
    pub as_of: Option<String>,
    /// Days after --as-of in which a purchase means "buys again" (drivers).
    #[arg(long)]
    pub horizon_days: Option<u32>,
    /// All parameters as a JSON object (flags override).
    #[arg(long)]
    pub params: Option<String>,
    /// Write the labels (cluster) or rules (rules) or tree (tree) to this file: .csv or .json.
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// Also write the result to the lake's results table.
    #[arg(long)]
    pub save: bool,
    /// Also upsert the result's tables into the database of [sink] url.
    #[arg(long)]
    pub sink: bool,
    /// Show every row of long tables (labels).
    #[arg(long)]
    pub all: bool,
}

fn task_help() -> String {
    let names: Vec<&str> = mine::registry::names().collect();
    format!(
        "The task: {} (`--list` shows each with its parameters)",
        names.join(", ")
    )
}
