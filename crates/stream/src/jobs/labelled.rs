//! Several window lengths of one accumulator, each under its label (`1min`, `1h`, `1d`): the
//! shared core of kpis and uv.

use super::{JobConfig, parse_duration, parse_window};
use crate::StreamError;
use crate::geometry::Geometry;
use crate::windowed::{Acc, FiredAcc, Windowed};
use store::Zone;

/// The window lengths of a job and their labels.
pub(crate) struct Labelled {
    pub labels: Vec<String>,
    pub geos: Vec<Geometry>,
}

impl Labelled {
    /// `windows` (or `window`) of the settings, else `default`; `slide` makes them sliding.
    pub fn from_config(
        cfg: &JobConfig,
        zone: Zone,
        default: &[&str],
        job: &str,
    ) -> Result<Labelled, StreamError> {
        let labels = cfg
            .windows
            .clone()
            .or_else(|| cfg.window.clone().map(|w| vec![w]))
            .unwrap_or_else(|| default.iter().map(|s| s.to_string()).collect());
        if labels.is_empty() {
            return Err(StreamError::Config(format!("{job}: windows is empty")));
        }
        let mut geos = labels
            .iter()
            .map(|l| parse_window(l, zone))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(slide) = &cfg.slide {
            let s = parse_duration(slide)?;
            geos = geos
                .into_iter()
                .map(|g| Geometry::sliding(g.size(), s).map_err(StreamError::Config))
                .collect::<Result<_, _>>()?;
        }
        Ok(Labelled { labels, geos })
    }

    /// Empty windows of every length.
    pub fn windows<A: Acc>(&self, lateness: i64) -> Vec<Windowed<A>> {
        self.geos
            .iter()
            .map(|g| Windowed::new(*g, lateness))
            .collect()
    }

    /// Adds an event at `ts` (watermark `wm` before it) to every length; `late` is called for
    /// each length whose windows holding `ts` have all expired.
    pub fn add<A: Acc>(
        &self,
        state: &mut [Windowed<A>],
        ts: i64,
        wm: i64,
        mut add: impl FnMut(&mut A),
        mut late: impl FnMut(&Geometry, &str),
    ) {
        for (w, (geo, label)) in state.iter_mut().zip(self.geos.iter().zip(&self.labels)) {
            match w.pane_for(ts, wm) {
                Ok(acc) => add(acc),
                Err(_) => late(geo, label),
            }
        }
    }

    /// Fires what `wm` completes (every length when `force`, else only those due).
    pub fn advance<A: Acc>(
        &self,
        state: &mut [Windowed<A>],
        wm: i64,
        force: bool,
        emit: &mut dyn FnMut(&str, FiredAcc<'_, A>),
    ) {
        for (w, label) in state.iter_mut().zip(&self.labels) {
            if force || wm >= w.due() {
                w.advance(wm, &mut |f| emit(label, f));
            }
        }
    }

    /// The longest window.
    pub fn reach(&self) -> i64 {
        self.geos.iter().map(|g| g.size()).max().unwrap_or(0)
    }
}
