//! `mine cluster`: k-means, k-medoids or DBSCAN on any input table's numeric columns. k-means
//! without `k` picks it by the silhouette (2..=`k_max`). The result: the centres (medoids) in
//! the table's units with their sizes, each row's label, and the fit's figures.

use super::{id_column, num, parse};
use crate::MineError;
use crate::features::{Features, Transform, numeric_features};
use crate::source::{Ctx, Source};
use crate::typing::typed;
use mining::cluster::{dbscan, distance::Metric, kmeans, kmedoids, silhouette};
use query::analysis::{Analysis, Table};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// Parameters of `mine cluster`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterParams {
    /// The input table.
    #[serde(flatten)]
    pub source: Source,
    /// `kmeans` (default), `kmedoids` or `dbscan`.
    #[serde(default = "kmeans_name")]
    pub algo: String,
    /// Clusters (k-means, k-medoids); k-means picks it by silhouette when absent.
    #[serde(default)]
    pub k: Option<usize>,
    /// Largest k tried when choosing it.
    #[serde(default = "eight")]
    pub k_max: usize,
    /// Feature columns (default: every numeric column except `id`).
    #[serde(default)]
    pub features: Vec<String>,
    /// A column naming each row in the labels table (default: row numbers).
    #[serde(default)]
    pub id: Option<String>,
    /// `none`, `standardize` (default), `log` or `log-standardize`.
    #[serde(default = "standardize")]
    pub transform: Transform,
    /// k-means restarts.
    #[serde(default = "ten")]
    pub n_init: usize,
    /// Seed of the k-means++ initialisation.
    #[serde(default)]
    pub seed: u64,
    /// DBSCAN's neighbourhood radius (in transformed units).
    #[serde(default)]
    pub eps: Option<f64>,
    /// DBSCAN's neighbours for a core point, the point itself included.
    #[serde(default = "five")]
    pub min_samples: usize,
    /// Distance of k-medoids and DBSCAN: euclidean (default), manhattan, cosine.
    #[serde(default = "euclidean")]
    pub metric: String,
}

fn kmeans_name() -> String {
    "kmeans".into()
}
fn eight() -> usize {
    8
}
fn ten() -> usize {
    10
}
fn five() -> usize {
    5
}
fn standardize() -> Transform {
    Transform::Standardize
}
fn euclidean() -> String {
    "euclidean".into()
}

const ALGOS: [&str; 3] = ["kmeans", "kmedoids", "dbscan"];

/// Rows k-medoids takes at most.
pub const KMEDOIDS_MAX_ROWS: usize = 10_000;

/// A clustering: a label per row (-1 = noise) and centres in transformed units.
pub struct Fit {
    /// Label per row.
    pub labels: Vec<i64>,
    /// Centres (k-means means, k-medoids medoids); none for DBSCAN.
    pub centers: Vec<Vec<f64>>,
    /// Headline figures.
    pub summary: Map<String, Value>,
}

/// k-means with k given or chosen by silhouette; the summary says which k and why.
pub fn kmeans_fit(
    f: &Features,
    k: Option<usize>,
    k_max: usize,
    n_init: usize,
    seed: u64,
) -> Result<Fit, MineError> {
    let run = |k: usize| {
        kmeans::fit(
            &f.matrix,
            None,
            &kmeans::KMeansParams {
                k,
                n_init: Some(n_init.max(1)),
                seed,
                ..Default::default()
            },
        )
    };
    let mut summary = Map::new();
    let model = match k {
        Some(k) => run(k)?,
        None => {
            let rows = f.matrix.rows();
            let top = k_max.min(rows.saturating_sub(1));
            if top < 2 {
                return Err(MineError::Usage(format!(
                    "choosing k needs at least 3 rows; the input has {rows} (give k)"
                )));
            }
            let mut best: Option<(f64, usize, kmeans::KMeansModel)> = None;
            let mut tried = Vec::new();
            for k in 2..=top {
                let m = run(k)?;
                let s = silhouette::silhouette_sample(&f.matrix, &m.labels, 10_000, seed)?;
                tried.push(json!({"k": k, "silhouette": num(s, 4)}));
                if best.as_ref().is_none_or(|b| s > b.0) {
                    best = Some((s, k, m));
                }
            }
            summary.insert("k_chosen_by".into(), json!("silhouette"));
            summary.insert("k_tried".into(), Value::Array(tried));
            best.map(|b| b.2)
                .ok_or_else(|| MineError::Internal("no k tried".into()))?
        }
    };
    let k = model.centers.rows();
    summary.insert("k".into(), json!(k));
    summary.insert("inertia".into(), num(model.inertia, 6));
    summary.insert("iterations".into(), json!(model.n_iter));
    Ok(Fit {
        labels: model.labels.iter().map(|&l| l as i64).collect(),
        centers: (0..k).map(|c| model.centers.row(c).to_vec()).collect(),
        summary,
    })
}

fn metric(name: &str) -> Result<Metric, MineError> {
    match name {
        "euclidean" => Ok(Metric::Euclidean),
        "manhattan" => Ok(Metric::Manhattan),
        "cosine" => Ok(Metric::Cosine),
        _ => Err(MineError::Usage(format!(
            "unknown metric {name:?}{}; use euclidean, manhattan or cosine",
            model::suggest::hint(name, ["euclidean", "manhattan", "cosine"])
        ))),
    }
}

fn fit(p: &ClusterParams, f: &Features) -> Result<Fit, MineError> {
    match p.algo.as_str() {
        "kmeans" => kmeans_fit(f, p.k, p.k_max, p.n_init, p.seed),
        "kmedoids" => {
            let k =
                p.k.ok_or_else(|| MineError::Usage("kmedoids needs k".into()))?;
            let d = kmedoids::Dissimilarity::from_matrix(&f.matrix, metric(&p.metric)?)?;
            let init = kmedoids::build_init(&d, k)?;
            let m = kmedoids::fasterpam(&d, &init, 100)?;
            let mut summary = Map::new();
            summary.insert("k".into(), json!(k));
            summary.insert("loss".into(), num(m.loss, 6));
            summary.insert("swaps".into(), json!(m.n_swaps));
            Ok(Fit {
                labels: m.labels.iter().map(|&l| l as i64).collect(),
                centers: m
                    .medoids
                    .iter()
                    .map(|&i| f.matrix.row(i).to_vec())
                    .collect(),
                summary,
            })
        }
        "dbscan" => {
            let eps = p.eps.ok_or_else(|| {
                MineError::Usage("dbscan needs eps (the neighbourhood radius)".into())
            })?;
            let r = dbscan::dbscan(
                &f.matrix,
                &dbscan::DbscanParams {
                    eps,
                    min_samples: p.min_samples,
                    metric: metric(&p.metric)?,
                },
                None,
            )?;
            let mut summary = Map::new();
            summary.insert("clusters".into(), json!(r.n_clusters));
            summary.insert(
                "noise".into(),
                json!(r.labels.iter().filter(|&&l| l < 0).count()),
            );
            summary.insert("core_points".into(), json!(r.core.len()));
            Ok(Fit {
                labels: r.labels.iter().map(|&l| l as i64).collect(),
                centers: Vec::new(),
                summary,
            })
        }
        other => Err(MineError::Usage(format!(
            "unknown algo {other:?}{}; use kmeans, kmedoids or dbscan",
            model::suggest::hint(other, ALGOS)
        ))),
    }
}

/// Runs `mine cluster`.
pub async fn run(ctx: &Ctx<'_>, params: Value) -> Result<Analysis, MineError> {
    let p: ClusterParams = parse("cluster", params)?;
    let raw = p.source.table(ctx).await?;
    let data = typed(&raw, &p.source.types())?;
    let mut features = p.features.clone();
    if features.is_empty() {
        features = numeric_names(&data, p.id.as_deref());
    }
    let f = numeric_features(&data, &features, p.transform)?;
    let fit = fit(&p, &f)?;
    let ids = id_column(&raw, p.id.as_deref())?;
    Ok(result(&p, &f, &fit, &ids))
}

fn numeric_names(d: &mining::Dataset, id: Option<&str>) -> Vec<String> {
    d.columns()
        .iter()
        .filter(|c| matches!(c, mining::Column::Numeric { .. }))
        .map(|c| c.name().to_string())
        .filter(|n| Some(n.as_str()) != id)
        .collect()
}

/// The centres and labels tables of a fit.
pub fn result(p: &ClusterParams, f: &Features, fit: &Fit, ids: &[Value]) -> Analysis {
    let n = fit.labels.len();
    let clusters = fit
        .labels
        .iter()
        .copied()
        .max()
        .map_or(0, |m| (m + 1).max(0) as usize);
    let mut sizes = vec![0usize; clusters];
    for &l in &fit.labels {
        if l >= 0 {
            sizes[l as usize] += 1;
        }
    }
    let mut cols: Vec<&str> = vec!["cluster", "size", "share"];
    cols.extend(f.names.iter().map(String::as_str));
    let mut centers = Table::new("clusters", &cols);
    for (c, size) in sizes.iter().enumerate() {
        let mut row = vec![json!(c), json!(size), num(*size as f64 / n as f64, 4)];
        match fit.centers.get(c) {
            Some(center) => row.extend(f.original(center).into_iter().map(|v| num(v, 4))),
            None => row.extend(std::iter::repeat_n(Value::Null, f.names.len())),
        }
        centers.push(row);
    }
    if fit.centers.is_empty() {
        // DBSCAN has no centres: show each cluster's mean instead.
        let d = f.matrix.cols();
        let mut sums = vec![vec![0.0; d]; clusters];
        for (i, &l) in fit.labels.iter().enumerate() {
            if l >= 0 {
                for (s, v) in sums[l as usize].iter_mut().zip(f.matrix.row(i)) {
                    *s += v;
                }
            }
        }
        for (c, row) in centers.rows.iter_mut().enumerate() {
            let mean: Vec<f64> = sums[c].iter().map(|s| s / sizes[c].max(1) as f64).collect();
            row.truncate(3);
            row.extend(f.original(&mean).into_iter().map(|v| num(v, 4)));
        }
    }
    let mut labels = Table::new("labels", &["id", "cluster"]);
    for (i, &l) in fit.labels.iter().enumerate() {
        labels.push(vec![ids[i].clone(), json!(l)]);
    }
    let mut summary = fit.summary.clone();
    summary.insert("algo".into(), json!(p.algo));
    summary.insert("rows".into(), json!(n));
    summary.insert("features".into(), json!(f.names));
    Analysis {
        analysis: "cluster".into(),
        params: serde_json::to_value(p).unwrap_or(Value::Null),
        summary,
        tables: vec![centers, labels],
    }
}
