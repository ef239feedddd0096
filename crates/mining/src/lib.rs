//! Pure mining algorithms: clustering ([`cluster`]: k-means as scikit-learn's `KMeans`,
//! mini-batch/streaming k-means, k-medoids PAM/FasterPAM, DBSCAN as scikit-learn's), frequent
//! itemsets and association rules ([`rules`]: Apriori, Eclat and FP-growth, rules as mlxtend's
//! `association_rules`) and decision trees ([`tree`]: ID3 and C4.5 as Weka's `Id3` and `J48`).
//!
//! Nothing here reads the lake or knows DataFusion: inputs are the plain tables of [`data`]
//! (a numeric [`Matrix`], [`Baskets`], a typed [`Dataset`]), built by the caller from SQL results
//! or files. Every module names the reference it matches and how its tests check that.

pub mod cluster;
pub mod data;
pub mod error;
pub mod rules;
pub mod tree;

pub use data::{Baskets, Column, Dataset, Matrix};
pub use error::MiningError;

/// The result type of this crate.
pub type Result<T, E = MiningError> = std::result::Result<T, E>;
