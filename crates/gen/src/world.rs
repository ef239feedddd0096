//! Everything a run derives from its config before generating: plan, catalog, users, session
//! laws, patterns, ads and abuse campaigns. Built once, shared read-only by all workers.

use crate::behavior::SessionModel;
use crate::config::{ConfigError, GenConfig};
use crate::extras::Campaigns;
use crate::patterns::Patterns;
use crate::popularity::{Catalog, IdMap};
use crate::rhythm::Plan;
use crate::rng::{Alias, NormalTable, exp, ln};
use crate::users::Users;

/// Ads: `clamp(items / 500, 20, 20000)` of them, popularity Zipf with exponent 0.8.
const ADS_PER_ITEM: u32 = 500;

pub(crate) struct Model {
    pub(crate) cfg: GenConfig,
    pub(crate) plan: Plan,
    pub(crate) normal: NormalTable,
    pub(crate) catalog: Catalog,
    pub(crate) users: Users,
    pub(crate) sessions: SessionModel,
    pub(crate) patterns: Patterns,
    pub(crate) ads: Alias,
    pub(crate) ad_ids: IdMap,
    pub(crate) campaigns: Campaigns,
}

impl Model {
    pub(crate) fn new(cfg: &GenConfig) -> Result<Model, ConfigError> {
        cfg.validate()?;
        let scale = cfg.scale();
        let normal = NormalTable::new();
        let seed = cfg.seed;
        let catalog = Catalog::new(scale.items, scale.categories, seed, &normal);
        let users = Users::new(scale.users, seed, &normal);
        let patterns = Patterns::new(&catalog, scale.items, seed);
        let sizes: Vec<usize> = patterns.sets.iter().map(|s| s.len()).collect();
        let sessions = SessionModel::new(&sizes, &normal);
        let n_ads = (scale.items / ADS_PER_ITEM).clamp(20, 20_000);
        let ad_w: Vec<f64> = (0..n_ads).map(|a| exp(-0.8 * ln(a as f64 + 1.0))).collect();
        let campaigns = Campaigns::new(seed, users.len(), n_ads, cfg.start_ms, cfg.days);
        Ok(Model {
            cfg: cfg.clone(),
            plan: Plan::new(cfg),
            normal,
            catalog,
            users,
            sessions,
            patterns,
            ads: Alias::new(&ad_w),
            ad_ids: IdMap::new(n_ads as u64, 1 << 16, seed ^ 0xad),
            campaigns,
        })
    }
}
