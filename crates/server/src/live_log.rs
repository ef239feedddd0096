//! Every live emission numbered and kept in a bounded ring, so an event-stream client that
//! reconnects with `Last-Event-ID` gets exactly what it missed — nothing twice, nothing skipped —
//! or, when that is no longer possible (the server restarted, or the ring moved past it), a
//! `gap` event saying so and where the history API can fill it.
//!
//! Ids are `<boot>-<seq>`: `boot` is random per process, so an id from before a restart is
//! recognised as such instead of being taken for a position in the new sequence.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use stream::Emission;
use tokio::sync::broadcast;

/// An emission with its sequence number.
pub type Numbered = (u64, Arc<Emission>);

/// Where a resuming client stands.
#[derive(Debug)]
pub enum Resume {
    /// No `Last-Event-ID`: only what comes next.
    Fresh,
    /// What it missed, oldest first (possibly nothing).
    Replay(Vec<Numbered>),
    /// What it missed can no longer be replayed.
    Gap {
        /// `restarted` (the id is from another run) or `too_old` (evicted from the ring), or
        /// `bad_id` (not an id of ours).
        reason: &'static str,
        /// The oldest id still replayable, if any.
        oldest: Option<String>,
    },
}

/// The numbered ring and the broadcast of new emissions.
pub struct LiveLog {
    boot: String,
    cap: usize,
    inner: Mutex<Inner>,
    tx: broadcast::Sender<Numbered>,
}

struct Inner {
    next: u64,
    ring: VecDeque<Numbered>,
}

impl LiveLog {
    /// A log keeping the last `cap` emissions.
    pub fn new(cap: usize) -> LiveLog {
        let (tx, _) = broadcast::channel(4096);
        LiveLog {
            boot: format!("{:08x}", rand::random::<u32>()),
            cap: cap.max(1),
            inner: Mutex::new(Inner {
                next: 1,
                ring: VecDeque::new(),
            }),
            tx,
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The event id of sequence number `seq`.
    pub fn id(&self, seq: u64) -> String {
        format!("{}-{seq}", self.boot)
    }

    /// Numbers, keeps and broadcasts an emission.
    pub fn publish(&self, e: Arc<Emission>) {
        let mut g = self.inner();
        let seq = g.next;
        g.next += 1;
        g.ring.push_back((seq, e.clone()));
        if g.ring.len() > self.cap {
            g.ring.pop_front();
        }
        // Sent under the lock, so a subscriber that read the ring under it misses nothing.
        let _ = self.tx.send((seq, e));
    }

    /// A receiver of new emissions.
    pub fn subscribe(&self) -> broadcast::Receiver<Numbered> {
        self.tx.subscribe()
    }

    /// Subscribes and works out what a client that last saw `last_id` missed. Every emission
    /// numbered after the replay arrives on the receiver, none of those before; the number is
    /// the last one published before subscribing (0: none yet).
    pub fn resume(&self, last_id: Option<&str>) -> (Resume, broadcast::Receiver<Numbered>, u64) {
        let g = self.inner();
        let rx = self.tx.subscribe();
        let latest = g.next - 1;
        let Some(last) = last_id else {
            return (Resume::Fresh, rx, latest);
        };
        let oldest = g.ring.front().map(|(s, _)| self.id(*s));
        let parsed = last
            .trim()
            .rsplit_once('-')
            .and_then(|(b, s)| Some((b, s.parse::<u64>().ok()?)));
        let resume = match parsed {
            None => Resume::Gap {
                reason: "bad_id",
                oldest,
            },
            Some((boot, _)) if boot != self.boot => Resume::Gap {
                reason: "restarted",
                oldest,
            },
            Some((_, seq)) => {
                let first = g.ring.front().map_or(g.next, |(s, _)| *s);
                if seq + 1 < first {
                    Resume::Gap {
                        reason: "too_old",
                        oldest,
                    }
                } else {
                    Resume::Replay(g.ring.iter().filter(|(s, _)| *s > seq).cloned().collect())
                }
            }
        };
        (resume, rx, latest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn em(n: i64) -> Arc<Emission> {
        Arc::new(Emission {
            job: "kpis".into(),
            kind: stream::Kind::Result,
            shop: "s".into(),
            start: n,
            end: n + 1,
            revision: 0,
            watermark: n,
            rows: vec![],
        })
    }

    fn seqs(r: &Resume) -> Vec<u64> {
        match r {
            Resume::Replay(v) => v.iter().map(|(s, _)| *s).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_resume_replays_exactly_what_was_missed_and_then_streams_the_rest() {
        let log = LiveLog::new(3);
        for n in 0..4 {
            log.publish(em(n));
        }
        // Seqs 2, 3, 4 are kept; the client saw 2.
        let (r, mut rx, latest) = log.resume(Some(&log.id(2)));
        assert_eq!(latest, 4);
        assert_eq!(seqs(&r), vec![3, 4]);
        log.publish(em(9));
        assert_eq!(rx.try_recv().unwrap().0, 5);
        assert!(rx.try_recv().is_err());
        // Up to date: nothing to replay. One before the oldest kept: still complete.
        assert_eq!(seqs(&log.resume(Some(&log.id(5))).0), Vec::<u64>::new());
        assert_eq!(seqs(&log.resume(Some(&log.id(2))).0), vec![3, 4, 5]);
    }

    #[test]
    fn ids_from_another_run_or_evicted_or_malformed_are_gaps() {
        let log = LiveLog::new(2);
        for n in 0..5 {
            log.publish(em(n));
        }
        let reason = |id: &str| match log.resume(Some(id)).0 {
            Resume::Gap { reason, oldest } => {
                assert_eq!(oldest, Some(log.id(4)));
                reason
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(reason(&log.id(1)), "too_old");
        assert_eq!(reason("deadbeef-3"), "restarted");
        assert_eq!(reason("nonsense"), "bad_id");
        assert!(matches!(log.resume(None).0, Resume::Fresh));
    }
}
