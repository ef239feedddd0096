//! Users: activity skew, interests, home region and address.
//!
//! - **Activity**: each user's weight is log-normal (σ 1.0) and 0.3% of users are "heavy"
//!   (×10): a median user is ~0.6× the mean, the top 10% make ~40% of the events and the
//!   heaviest make thousands, like Taobao's (1M users, 100 events each on average).
//! - **Interests**: 3 categories per user drawn by category traffic (hash of the user), so the
//!   sum over users keeps the global category mix while each user browses few categories.
//! - **Region**: a province (weighted by online shoppers) and one of its cities; **address**:
//!   an IPv4 address in blocks that Chinese ISPs use. Both fixed per user.

use crate::popularity::{Catalog, IdMap};
use crate::rng::{Alias, NormalTable, below_of, exp, hash2, hash3, unit_of};

const ACTIVITY_SIGMA: f64 = 1.0;
const HEAVY_SHARE: f64 = 0.003;
const HEAVY_FACTOR: f64 = 10.0;
/// Interests per user and how often a session picks each.
pub(crate) const INTEREST_WEIGHTS: [f64; 3] = [0.5, 0.3, 0.2];

/// Provinces (pinyin, lower case), their weight, and cities.
pub(crate) const PROVINCES: [(&str, f64, &[&str]); 24] = [
    (
        "guangdong",
        14.0,
        &["guangzhou", "shenzhen", "dongguan", "foshan"],
    ),
    (
        "zhejiang",
        10.0,
        &["hangzhou", "ningbo", "wenzhou", "jinhua"],
    ),
    ("jiangsu", 9.0, &["nanjing", "suzhou", "wuxi", "changzhou"]),
    ("shanghai", 6.0, &["shanghai"]),
    ("beijing", 5.5, &["beijing"]),
    ("shandong", 6.5, &["jinan", "qingdao", "yantai"]),
    ("henan", 5.0, &["zhengzhou", "luoyang"]),
    ("sichuan", 4.5, &["chengdu", "mianyang"]),
    ("hubei", 4.0, &["wuhan", "yichang"]),
    ("fujian", 4.0, &["fuzhou", "xiamen", "quanzhou"]),
    ("hunan", 3.5, &["changsha", "zhuzhou"]),
    ("hebei", 3.5, &["shijiazhuang", "tangshan", "baoding"]),
    ("anhui", 3.0, &["hefei", "wuhu"]),
    ("liaoning", 2.8, &["shenyang", "dalian"]),
    ("shaanxi", 2.3, &["xian", "baoji"]),
    ("jiangxi", 2.0, &["nanchang", "ganzhou"]),
    ("guangxi", 2.0, &["nanning", "guilin"]),
    ("chongqing", 2.2, &["chongqing"]),
    ("tianjin", 1.8, &["tianjin"]),
    ("yunnan", 1.6, &["kunming", "dali"]),
    ("heilongjiang", 1.5, &["harbin", "daqing"]),
    ("shanxi", 1.4, &["taiyuan", "datong"]),
    ("jilin", 1.2, &["changchun", "jilin"]),
    ("guizhou", 1.2, &["guiyang", "zunyi"]),
];

/// First octets of address blocks held by Chinese ISPs.
const IP_BLOCKS: [u8; 24] = [
    36, 39, 42, 58, 59, 60, 61, 101, 106, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119, 120,
    121, 122, 123, 183,
];

/// Formats an IPv4 address held in a `u32`.
pub(crate) fn format_ip(ip: u32) -> String {
    let b = ip.to_be_bytes();
    format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3])
}

/// A random public-looking Chinese address from 64 bits.
pub(crate) fn ip_from_bits(h: u64) -> u32 {
    let first = IP_BLOCKS[below_of(h, IP_BLOCKS.len() as u64) as usize];
    let rest = ((h >> 8) as u32 & 0x00ff_ffff) | 1; // never .0 at the end
    (first as u32) << 24 | rest
}

/// The user population.
pub(crate) struct Users {
    activity: Alias,
    ids: IdMap,
    provinces: Alias,
    seed: u64,
}

impl Users {
    pub(crate) fn new(n: u32, seed: u64, normal: &NormalTable) -> Users {
        let weights: Vec<f64> = (0..n as u64)
            .map(|u| {
                let h = hash3(seed, 0xac71, u);
                let heavy = if unit_of(h.rotate_left(29)) < HEAVY_SHARE {
                    HEAVY_FACTOR
                } else {
                    1.0
                };
                exp(ACTIVITY_SIGMA * normal.sample(h)) * heavy
            })
            .collect();
        let pw: Vec<f64> = PROVINCES.iter().map(|p| p.1).collect();
        Users {
            activity: Alias::new(&weights),
            ids: IdMap::new(n as u64, 1 << 20, seed ^ 0x05e7),
            provinces: Alias::new(&pw),
            seed,
        }
    }

    /// Number of users.
    pub(crate) fn len(&self) -> u32 {
        self.activity.len() as u32
    }

    /// A user drawn by activity.
    #[inline]
    pub(crate) fn sample(&self, bits: u64) -> u32 {
        self.activity.sample(bits)
    }

    /// Public id of a user.
    #[inline]
    pub(crate) fn id(&self, user: u32) -> i64 {
        self.ids.id(user)
    }

    /// The user's `j`-th interest category.
    #[inline]
    pub(crate) fn interest(&self, user: u32, j: usize, catalog: &Catalog) -> u32 {
        catalog.sample_category(hash3(self.seed ^ 0x1e7, user as u64, j as u64))
    }

    /// The user's usual address.
    pub(crate) fn ip(&self, user: u32) -> u32 {
        ip_from_bits(hash2(self.seed ^ 0x1b, user as u64))
    }

    /// The user's home province and city (indices into [`PROVINCES`]).
    pub(crate) fn region(&self, user: u32) -> (u8, u8) {
        let h = hash2(self.seed ^ 0x9e0, user as u64);
        let p = self.provinces.sample(h) as usize;
        let cities = PROVINCES[p].2.len() as u64;
        (p as u8, below_of(h.rotate_left(23), cities) as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn activity_is_skewed_and_ids_unique() {
        let normal = NormalTable::new();
        let users = Users::new(10_000, 1, &normal);
        let mut rng = Rng::new(2);
        let mut c = vec![0u32; 10_000];
        for _ in 0..500_000 {
            c[users.sample(rng.u64()) as usize] += 1;
        }
        c.sort_unstable_by(|a, b| b.cmp(a));
        let top10: u32 = c[..1000].iter().sum();
        assert!(top10 as f64 > 0.3 * 500_000.0, "{top10}");
        let mut ids: Vec<i64> = (0..10_000).map(|u| users.id(u)).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 10_000);
        let (p, city) = users.region(3);
        assert!((city as usize) < PROVINCES[p as usize].2.len());
        assert!(format_ip(users.ip(3)).split('.').count() == 4);
    }
}
