//! Orders and payment receipts that follow each `buy`.
//!
//! Every buy creates an order 0.2-1.5 s later. 93% are paid: the pay delay is log-normal
//! (median 45 s, σ 1.0) within 3 s..14 min 59 s, so always inside the 15-minute payment
//! window; the payment provider's receipt (same `tx_id`; alipay 56%, wechat 34%, card 10%)
//! arrives between 1.5 s before and 4 s after the pay event, as receipts and order updates
//! travel separate paths. The other 7% time out: 60% of them get a `cancel` 15-17 minutes
//! after creation, the rest stay created only. Nothing is paid late, no receipt lacks its
//! pay. Times never pass the run's end (a cancel that would is dropped).

use crate::record::{Kind, Rec, order_key};
use crate::rng::{Rng, below_of, exp, hash3, mix64};
use crate::world::Model;

/// Share of orders that are paid within the window.
pub const P_PAY: f64 = 0.93;
/// Share of unpaid orders that get an explicit cancel.
pub const P_CANCEL_UNPAID: f64 = 0.6;
/// Payment window.
pub const PAY_TIMEOUT_MS: i64 = 15 * 60 * 1000;
/// Payment channels and their shares.
pub const PAY_CHANNELS: [(&str, f64); 3] = [("alipay", 0.56), ("wechat", 0.34), ("card", 0.10)];

const PAY_MEDIAN_MS: f64 = 45_000.0;
const PAY_SIGMA: f64 = 1.0;

/// Quantity of a cart or buy (1: 85%, 2: 10%, 3: 3%, 4-5: 2%), fixed by the event identity.
pub(crate) fn quantity(seed: u64, session_key: u64, position: u16) -> u16 {
    let h = hash3(seed ^ 0x9a7, session_key, position as u64);
    match below_of(h, 100) {
        0..=84 => 1,
        85..=94 => 2,
        95..=97 => 3,
        _ => 4 + (h & 1) as u16,
    }
}

/// The public order id of an order key (a bijection, so ids are unique).
pub(crate) fn order_id(seed: u64, key: u64) -> u64 {
    mix64(key ^ mix64(seed ^ 0x0bde))
}

/// The transaction id of an order key.
pub(crate) fn tx_id(seed: u64, key: u64) -> String {
    format!("tx{:016x}", mix64(order_id(seed, key) ^ 0x7a5c_0de5))
}

/// Pushes the order (and payment) records of one buy.
pub(crate) fn orders_for_buy(m: &Model, buy: &Rec, rng: &mut Rng, out: &mut Vec<Rec>) {
    let end = m.cfg.end_ms() - 1;
    let key = order_key(buy.aux, buy.y);
    let qty = quantity(m.cfg.seed, buy.aux, buy.y);
    let rec = |ts: i64, kind: Kind, x: u8| Rec {
        ts: ts.min(end),
        aux: key,
        user: buy.user,
        item: buy.item,
        cat: buy.cat,
        y: qty,
        kind,
        x,
    };
    let create = (buy.ts + 200 + rng.below(1300) as i64).min(end);
    out.push(rec(create, Kind::OrderCreate, 0));
    let paid = rng.chance(P_PAY);
    let z = m.normal.sample(rng.u64());
    let cancel_draw = rng.chance(P_CANCEL_UNPAID);
    let late = rng.below(120_000) as i64;
    let delay = (PAY_MEDIAN_MS * exp(PAY_SIGMA * z)).clamp(3000.0, 899_000.0) as i64;
    let pay = create + delay;
    // A pay that would fall after the run's end has not happened yet: the order stays open.
    if paid && pay <= end {
        out.push(rec(pay, Kind::OrderPay, 0));
        let u = rng.unit();
        let channel = if u < PAY_CHANNELS[0].1 {
            0
        } else if u < PAY_CHANNELS[0].1 + PAY_CHANNELS[1].1 {
            1
        } else {
            2
        };
        let receipt = (pay - 1500 + rng.below(5500) as i64).max(create);
        out.push(rec(receipt, Kind::Payment, channel));
    } else if cancel_draw {
        let cancel = create + PAY_TIMEOUT_MS + late;
        if cancel <= end {
            out.push(rec(cancel, Kind::OrderCancel, 0));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_are_mostly_one_and_ids_distinct() {
        let ones = (0..10_000u16).filter(|p| quantity(1, 5, *p) == 1).count();
        assert!((8000..9000).contains(&ones), "{ones}");
        assert!((0..10_000u16).all(|p| (1..=5).contains(&quantity(1, 5, p))));
        assert_ne!(order_id(1, 1), order_id(1, 2));
        assert_ne!(tx_id(1, 1), tx_id(2, 1));
        assert_eq!(tx_id(1, 1).len(), 18);
    }
}
