//! # storepulse-model
//!
//! The bottom of the StorePulse pipeline: what an event *is*. Every other crate speaks these types.
//!
//! - [`Event`] — the common envelope (`event_id`, `shop`, `ts`, `received_at`, `props`) around a typed
//!   [`EventBody`] (behaviour, order, payment, login, ad click, page view).
//! - [`ItemRecord`], [`UserRecord`] — catalog and profile rows, read with the rules of events.
//! - [`Id`] — user/item/category ids: numeric ids take a fast path, other strings get a stable
//!   surrogate (see [`Id::surrogate`]) whose original text the catalog keeps.
//! - [`time`] — timestamps as unix seconds, unix milliseconds or RFC 3339, all normalised to UTC ms.
//! - [`Reject`] — why a row was refused: the reason code, the field, the value as written, the rule.
//! - [`Rules`] — validation settings (plausible time range, known actions).
//! - [`schema`] — the Arrow schema of every lake table (light: `arrow-schema` only).
//! - [`Zone`] — the lake's calendar (fixed offset or IANA zone); [`time::now_ms`] the clock.
//! - [`duration`] — the one duration syntax of settings and parameters.
//! - [`suggest`] — "did you mean" for unknown names.
//!
//! ```
//! use storepulse_model::{time::parse_ts, Rules};
//! let ts = parse_ts("1511658000").unwrap();          // unix seconds
//! assert_eq!(ts, parse_ts("1511658000000").unwrap()); // unix ms
//! assert_eq!(ts, parse_ts("2017-11-26T01:00:00Z").unwrap());
//! assert!(Rules::default().check_ts(ts).is_ok());
//! ```
//!
//! Parsing of file formats lives in `storepulse-collect`; storage in `storepulse-store`.
#![deny(missing_docs)]

mod dims;
pub mod duration;
mod event;
mod fields;
mod id;
mod reject;
mod rules;
pub mod schema;
pub mod suggest;
pub mod time;
mod zone;

pub use dims::{ItemRecord, UserRecord};
pub use event::{
    AdClick, Behavior, DEFAULT_SHOP, Event, EventBody, EventType, LOGIN_RESULTS, Login,
    ORDER_STATUSES, Order, PageView, Payment, check_shop,
};
pub use id::Id;
pub use reject::{Reason, Reject};
pub use rules::Rules;
pub use zone::Zone;
