//! `mine drivers`: which traits separate customers who buy again from those who do not. Each
//! customer who bought before a day T gets features computed only from events before T
//! (orders, spend, recency, tenure, average order, country; views, carts, favourites and
//! categories in the 30 days before T) and a label: a purchase in the `horizon_days` from T.
//! A C4.5 tree (Weka J48) is fitted on a seeded random share of the customers and its accuracy
//! measured on the rest. Purchases are the lake's orders and its behaviour `buy` events.

use super::parse;
use super::tree::{TreeParams, fit, result, split, subset};
use crate::MineError;
use crate::input::RawTable;
use crate::source::{Ctx, Source};
use crate::typing::{TypeSpec, typed};
use chrono::{NaiveDate, NaiveTime};
use query::analysis::Analysis;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Parameters of `mine drivers`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriversParams {
    /// Only this shop (required when the lake holds several).
    #[serde(default)]
    pub shop: Option<String>,
    /// The day T features are taken before (default: `horizon_days` before the last purchase).
    #[serde(default)]
    pub as_of: Option<NaiveDate>,
    /// Days after T in which a purchase makes the label `yes`.
    #[serde(default = "thirty")]
    pub horizon_days: u32,
    /// Share of customers held out to measure accuracy.
    #[serde(default = "three_tenths")]
    pub test_share: f64,
    /// Seed of the held-out split.
    #[serde(default)]
    pub seed: u64,
    /// Pruning confidence factor.
    #[serde(default = "quarter")]
    pub confidence: f32,
    /// Smallest leaf.
    #[serde(default = "five")]
    pub min_leaf: usize,
}

fn thirty() -> u32 {
    30
}
fn three_tenths() -> f64 {
    0.3
}
fn quarter() -> f32 {
    0.25
}
fn five() -> usize {
    5
}

const PURCHASES: &str = "SELECT shop, user_id, ts, order_id AS ord, amount,
        CAST(country AS VARCHAR) AS country
    FROM orders WHERE status = 'create' AND user_id IS NOT NULL
    UNION ALL
    SELECT shop, user_id, ts, CAST(user_id AS VARCHAR) || '/' || CAST(dt AS VARCHAR) AS ord,
        price * coalesce(qty, 1) AS amount, CAST(NULL AS VARCHAR) AS country
    FROM behavior WHERE action = 'buy'";

fn ms(d: NaiveDate) -> i64 {
    d.and_time(NaiveTime::MIN).and_utc().timestamp_millis()
}

/// The SQL of the feature table as of `t_ms` (UTC ms), every feature from before it.
pub fn features_sql(t_ms: i64, horizon_days: u32) -> String {
    let end = t_ms + i64::from(horizon_days) * 86_400_000;
    let window = t_ms - 30 * 86_400_000;
    format!(
        "WITH p AS ({PURCHASES}),
         f AS (SELECT shop, user_id, count(DISTINCT ord) AS orders,
                      coalesce(sum(amount), 0) AS spend,
                      ({t_ms} - max(CAST(ts AS BIGINT))) / 86400000 AS recency_days,
                      (max(CAST(ts AS BIGINT)) - min(CAST(ts AS BIGINT))) / 86400000 AS tenure_days,
                      coalesce(sum(amount), 0) / count(DISTINCT ord) AS avg_order,
                      coalesce(max(country), 'unknown') AS country
               FROM p WHERE CAST(ts AS BIGINT) < {t_ms} GROUP BY shop, user_id),
         b AS (SELECT shop, user_id,
                      count(CASE WHEN action = 'pv' THEN 1 END) AS views_30d,
                      count(CASE WHEN action = 'cart' THEN 1 END) AS carts_30d,
                      count(CASE WHEN action = 'fav' THEN 1 END) AS favs_30d,
                      count(DISTINCT category_id) AS categories_30d
               FROM behavior
               WHERE CAST(ts AS BIGINT) >= {window} AND CAST(ts AS BIGINT) < {t_ms}
               GROUP BY shop, user_id),
         a AS (SELECT DISTINCT shop, user_id FROM p
               WHERE CAST(ts AS BIGINT) >= {t_ms} AND CAST(ts AS BIGINT) < {end})
         SELECT f.shop, f.user_id, f.orders, f.spend, f.recency_days, f.tenure_days,
                f.avg_order, f.country,
                coalesce(b.views_30d, 0) AS views_30d, coalesce(b.carts_30d, 0) AS carts_30d,
                coalesce(b.favs_30d, 0) AS favs_30d,
                coalesce(b.categories_30d, 0) AS categories_30d,
                CASE WHEN a.user_id IS NULL THEN 'no' ELSE 'yes' END AS buys_again
         FROM f LEFT JOIN b ON f.shop = b.shop AND f.user_id = b.user_id
                LEFT JOIN a ON f.shop = a.shop AND f.user_id = a.user_id
         ORDER BY f.shop, f.user_id"
    )
}

async fn rows(ctx: &Ctx<'_>, sql: &str, scope: &query::Scope) -> Result<RawTable, MineError> {
    RawTable::query(ctx.query.engine, sql, scope, crate::input::DEFAULT_MAX_ROWS)
        .await?
        .ok_or_else(|| {
            MineError::Usage(
                "no customer bought before the as_of day (choose a later as_of)".into(),
            )
        })
}

/// Runs `mine drivers`.
pub async fn run(ctx: &Ctx<'_>, params: Value) -> Result<Analysis, MineError> {
    let p: DriversParams = parse("drivers", params)?;
    let range = query::analysis::Range {
        shop: p.shop.clone(),
        ..Default::default()
    };
    let scope = ctx.query.scope_for(&range)?;
    if scope.shop.is_none() {
        let shops = ctx.query.engine.shops()?;
        if shops.len() > 1 {
            return Err(MineError::Usage(format!(
                "the lake holds {} shops ({}); drivers describe one shop's customers: give shop",
                shops.len(),
                shops.join(", ")
            )));
        }
    }
    let t_ms = match p.as_of {
        Some(d) => ms(d),
        None => {
            let last = rows(
                ctx,
                &format!("SELECT max(CAST(ts AS BIGINT)) AS last FROM ({PURCHASES})"),
                &scope,
            )
            .await?;
            let Some(crate::input::RawValues::Num(v)) = last.columns.first() else {
                return Err(MineError::Internal("no last purchase".into()));
            };
            let last = v.first().copied().flatten().ok_or_else(|| {
                MineError::Usage("the lake has no purchases (orders or buy events)".into())
            })? as i64;
            // Midnight UTC of the day `horizon_days` before the last purchase.
            let day = (last - i64::from(p.horizon_days) * 86_400_000).div_euclid(86_400_000);
            day * 86_400_000
        }
    };
    let table = rows(ctx, &features_sql(t_ms, p.horizon_days), &scope).await?;
    let types = TypeSpec {
        categorical: vec![
            "shop".into(),
            "user_id".into(),
            "country".into(),
            "buys_again".into(),
        ],
        numeric: vec![],
    };
    let d = typed(&table, &types)?;
    let target = d.index_of("buys_again")?;
    let shop_col = d.index_of("shop")?;
    let user_col = d.index_of("user_id")?;
    let mut cols: Vec<usize> = (0..d.columns().len())
        .filter(|&c| c != target && c != shop_col && c != user_col)
        .collect();
    cols.push(target);
    let (train_rows, test_rows) = split(d.rows(), p.test_share, p.seed)?;
    let train = subset(&d, &cols, &train_rows)?;
    let tp = TreeParams {
        source: Source::default(),
        target: "buys_again".into(),
        algo: "c45".into(),
        features: vec![],
        confidence: p.confidence,
        min_leaf: p.min_leaf,
        unpruned: false,
        no_subtree_raising: false,
        test_share: p.test_share,
        seed: p.seed,
    };
    let tree = fit(&tp, &train)?;
    let test = (!test_rows.is_empty())
        .then(|| subset(&d, &cols, &test_rows))
        .transpose()?;
    let mut r = result(
        "drivers",
        serde_json::to_value(&p).unwrap_or(Value::Null),
        &tree,
        &train,
        test.as_ref(),
    );
    let yes = table_share_yes(&d, target);
    r.summary.insert(
        "as_of".into(),
        json!(
            chrono::DateTime::from_timestamp_millis(t_ms)
                .map(|t| t.date_naive().to_string())
                .unwrap_or_default()
        ),
    );
    r.summary
        .insert("horizon_days".into(), json!(p.horizon_days));
    r.summary.insert("customers".into(), json!(d.rows()));
    r.summary
        .insert("buys_again_share".into(), super::num(yes, 4));
    // How often the majority answer alone is right: the bar the tree must clear.
    r.summary.insert(
        "majority_accuracy".into(),
        super::num(yes.max(1.0 - yes), 4),
    );
    if let Some(s) = &scope.shop {
        r.summary.insert("shop".into(), json!(s));
    }
    Ok(r)
}

fn table_share_yes(d: &mining::Dataset, target: usize) -> f64 {
    let mining::Column::Nominal { levels, values, .. } = &d.columns()[target] else {
        return 0.0;
    };
    let Some(yes) = levels.iter().position(|l| l == "yes") else {
        return 0.0;
    };
    let n = values.iter().flatten().count().max(1);
    values
        .iter()
        .flatten()
        .filter(|&&v| v as usize == yes)
        .count() as f64
        / n as f64
}
