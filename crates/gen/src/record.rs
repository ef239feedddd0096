//! The compact internal record every generated event starts as (32 bytes, no allocation).
//! Records become [`::model::Event`]s (see `events.rs`) or CSV lines only at output.

/// What a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub(crate) enum Kind {
    Pv,
    Cart,
    Fav,
    Buy,
    OrderCreate,
    OrderPay,
    OrderCancel,
    Payment,
    LoginOk,
    LoginFail,
    AdClick,
    PageView,
}

impl Kind {
    /// Whether this is a behaviour event.
    #[inline]
    pub(crate) fn is_behavior(self) -> bool {
        (self as u8) <= Kind::Buy as u8
    }

    /// The behaviour action name (only meaningful for behaviour kinds).
    #[inline]
    pub(crate) fn action(self) -> &'static str {
        match self {
            Kind::Pv => "pv",
            Kind::Cart => "cart",
            Kind::Fav => "fav",
            Kind::Buy => "buy",
            _ => "",
        }
    }
}

/// One generated event in compact form. The meaning of the fields depends on `kind`:
///
/// | kind | user | item | cat | x | y | aux |
/// |---|---|---|---|---|---|---|
/// | pv/cart/fav/buy | user | item | category | channel | position in session | session key |
/// | order create/pay/cancel | user | item | category | – | quantity | order key |
/// | payment | user | item | category | pay channel | quantity | order key |
/// | login ok/fail | user | – | – | – | attempt | address (low 32 bits) + identity |
/// | ad click | user | ad | – | province | city | identity |
/// | page view | user or [`NO_USER`] | item or asset | category | url kind | status | address + identity |
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rec {
    /// Event time, UTC ms.
    pub(crate) ts: i64,
    pub(crate) aux: u64,
    pub(crate) user: u32,
    pub(crate) item: u32,
    pub(crate) cat: u32,
    pub(crate) y: u16,
    pub(crate) kind: Kind,
    pub(crate) x: u8,
}

/// `user` of a page view from an anonymous client.
pub(crate) const NO_USER: u32 = u32::MAX;

/// Key of a session: its slot and index within the slot.
#[inline]
pub(crate) fn session_key(slot: u32, index: u32) -> u64 {
    (slot as u64) << 32 | index as u64
}

/// Key of an order: unique per (slot, session, position) because slots < 2^23 and sessions
/// have fewer than 512 events.
#[inline]
pub(crate) fn order_key(session_key: u64, position: u16) -> u64 {
    let slot = session_key >> 32;
    let index = session_key & 0xffff_ffff;
    slot << 41 | index << 9 | (position as u64 & 0x1ff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_stay_compact_and_keys_unique() {
        assert_eq!(std::mem::size_of::<Rec>(), 32);
        assert_ne!(
            order_key(session_key(1, 0), 0),
            order_key(session_key(0, 1 << 23), 0)
        );
        assert_ne!(
            order_key(session_key(0, 1), 0),
            order_key(session_key(0, 0), 1)
        );
        assert!(Kind::Buy.is_behavior() && !Kind::OrderCreate.is_behavior());
    }
}
