//! Clustering: [`kmeans`] (Lloyd with scikit-learn's `KMeans` semantics), [`minibatch`]
//! (mini-batch and streaming k-means), [`kmedoids`] (PAM and FasterPAM over any distance),
//! [`dbscan`] (scikit-learn's `DBSCAN` labels), [`silhouette`] (scikit-learn's
//! `silhouette_score`, used to choose k) and the [`distance`]s they share.

pub mod dbscan;
pub mod distance;
pub mod kmeans;
pub mod kmedoids;
pub mod minibatch;
pub mod silhouette;
