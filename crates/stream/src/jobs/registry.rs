//! The one list of live jobs: name, help, the `[jobs.<name>]` settings each takes and the key
//! columns of its result rows, declared once. `build` constructs from it, the config check, the
//! CLI (`replay --list`, help), the API (`GET /v1/live`) and the docs test read it.

use crate::StreamError;
use crate::jobs::JobConfig;
use serde::Serialize;

/// One live job.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct JobDef {
    /// Its name (`[jobs.<name>]`, `/v1/live/<name>`, `storepulse replay <name>`).
    pub name: &'static str,
    /// One line on what it computes, with its default windows.
    pub help: &'static str,
    /// The settings it takes besides [`COMMON`].
    pub settings: &'static [&'static str],
    /// Key columns of its result rows (a row's identity within a window).
    pub keys: &'static [&'static str],
}

/// Settings every job takes.
pub const COMMON: &[&str] = &["lateness", "out_of_orderness", "idle_timeout"];

/// Every live job.
pub const REGISTRY: &[JobDef] = &[
    JobDef {
        name: "kpis",
        help: "PV, UV, buyers, orders, paid orders, GMV and conversion per tumbling window (1 min and 1 h)",
        settings: &["windows", "window", "slide"],
        keys: &["window"],
    },
    JobDef {
        name: "hot-items",
        help: "top-N items by page views per sliding window (1 h every 5 min, N = 5)",
        settings: &["window", "slide", "top", "action"],
        keys: &["item_id"],
    },
    JobDef {
        name: "hot-categories",
        help: "top-N categories by page views per sliding window (1 h every 5 min, N = 5)",
        settings: &["window", "slide", "top", "action"],
        keys: &["category_id"],
    },
    JobDef {
        name: "hot-pages",
        help: "top-N URLs of GET requests, static assets excluded (10 min every 5 s, N = 5)",
        settings: &["window", "slide", "top", "method", "exclude"],
        keys: &["url"],
    },
    JobDef {
        name: "uv",
        help: "distinct users per window, exact and HyperLogLog (1 h and calendar day)",
        settings: &["windows", "window", "slide", "exact"],
        keys: &["window"],
    },
    JobDef {
        name: "channel-stats",
        help: "events per (channel, action) per sliding window (1 h every 1 min)",
        settings: &["window", "slide", "top"],
        keys: &["channel", "action"],
    },
    JobDef {
        name: "ad-clicks",
        help: "ad clicks per province per sliding window (1 h every 5 s) with a daily click-fraud blacklist",
        settings: &["window", "slide", "threshold"],
        keys: &["province"],
    },
    JobDef {
        name: "sessions",
        help: "user sessions closed by 30 min of inactivity: events, page views, carts, buys, duration",
        settings: &["gap"],
        keys: &["user_id"],
    },
];

/// Every job name, in registry order.
pub fn names() -> impl Iterator<Item = &'static str> + Clone {
    REGISTRY.iter().map(|j| j.name)
}

/// The job called `name`, or an error naming the closest one and listing all.
pub fn find(name: &str) -> Result<&'static JobDef, StreamError> {
    REGISTRY.iter().find(|j| j.name == name).ok_or_else(|| {
        StreamError::Config(format!(
            "unknown job {name:?}{}; the jobs are {}",
            model::suggest::hint(name, names()),
            names().collect::<Vec<_>>().join(", ")
        ))
    })
}

impl JobDef {
    /// Whether it takes setting `name`.
    pub fn takes(&self, name: &str) -> bool {
        COMMON.contains(&name) || self.settings.contains(&name)
    }

    /// Refuses settings this job does not read (they would be silently ignored).
    pub fn check(&self, cfg: &JobConfig) -> Result<(), StreamError> {
        let wrong: Vec<&str> = cfg
            .set_fields()
            .into_iter()
            .filter(|f| !self.takes(f))
            .collect();
        if wrong.is_empty() {
            return Ok(());
        }
        let takes: Vec<&str> = self.settings.iter().chain(COMMON).copied().collect();
        Err(StreamError::Config(format!(
            "[jobs.{}]: {} {} not apply to this job{}; it takes {}",
            self.name,
            wrong.join(", "),
            if wrong.len() == 1 { "does" } else { "do" },
            model::suggest::hint(wrong[0], takes.iter().copied()),
            takes.join(", ")
        )))
    }
}

impl JobConfig {
    /// The settings given (not left to the job's defaults).
    pub fn set_fields(&self) -> Vec<&'static str> {
        let JobConfig {
            window,
            slide,
            windows,
            top,
            lateness,
            out_of_orderness,
            idle_timeout,
            action,
            method,
            exclude,
            threshold,
            gap,
            exact,
        } = self;
        let set = [
            ("window", window.is_some()),
            ("slide", slide.is_some()),
            ("windows", windows.is_some()),
            ("top", top.is_some()),
            ("lateness", lateness.is_some()),
            ("out_of_orderness", out_of_orderness.is_some()),
            ("idle_timeout", idle_timeout.is_some()),
            ("action", action.is_some()),
            ("method", method.is_some()),
            ("exclude", exclude.is_some()),
            ("threshold", threshold.is_some()),
            ("gap", gap.is_some()),
            ("exact", exact.is_some()),
        ];
        set.into_iter()
            .filter(|(_, s)| *s)
            .map(|(n, _)| n)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registered_job_builds_and_every_other_name_is_refused_with_a_hint() {
        for j in REGISTRY {
            let built = crate::build(j.name, &JobConfig::default(), model::Zone::default());
            assert_eq!(built.map(|b| b.name()).ok(), Some(j.name));
        }
        let e = crate::build("hot-itmes", &JobConfig::default(), model::Zone::default())
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("did you mean hot-items?"), "{e}");
    }

    #[test]
    fn settings_a_job_does_not_read_are_refused() {
        let kpis = find("kpis").unwrap();
        let cfg = JobConfig {
            top: Some(3),
            lateness: Some("5s".into()),
            ..JobConfig::default()
        };
        let e = kpis.check(&cfg).unwrap_err().to_string();
        assert!(e.contains("[jobs.kpis]: top does not apply"), "{e}");
        let hot = find("hot-items").unwrap();
        assert!(hot.check(&cfg).is_ok());
        // Every setting is taken by some job.
        let all = JobConfig {
            window: Some("1h".into()),
            slide: Some("1m".into()),
            windows: Some(vec![]),
            top: Some(1),
            lateness: Some("0".into()),
            out_of_orderness: Some("0".into()),
            idle_timeout: Some("0".into()),
            action: Some("pv".into()),
            method: Some("GET".into()),
            exclude: Some(String::new()),
            threshold: Some(1),
            gap: Some("1m".into()),
            exact: Some(true),
        };
        for f in all.set_fields() {
            assert!(
                REGISTRY.iter().any(|j| j.takes(f)),
                "{f} is taken by no job"
            );
        }
    }
}
