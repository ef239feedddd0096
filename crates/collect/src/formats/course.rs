//! The Flink course's CSV logs (no header): ad clicks, logins, orders and payment receipts.

use super::{id_field, opt, split_exact, ts_field};
use model::{AdClick, Event, EventBody, Login, Order, Payment, Reason, Reject};

fn event(ts: i64, body: EventBody) -> Event {
    Event {
        event_id: None,
        shop: None,
        ts,
        received_at: None,
        body,
        props: None,
    }
}

/// `userId,adId,province,city,ts`.
pub fn ad_click(text: &str) -> Result<Event, Reject> {
    let [user, ad, province, city, ts] = split_exact::<5>(text, "userId,adId,province,city,ts")?;
    let ad = ad.trim();
    if ad.is_empty() {
        return Err(Reject::missing("ad_id"));
    }
    Ok(event(
        ts_field("ts", ts)?,
        EventBody::AdClick(AdClick {
            user_id: id_field("user_id", user)?,
            ad_id: ad.into(),
            province: opt(province),
            city: opt(city),
        }),
    ))
}

/// `userId,ip,success|fail,ts`.
pub fn login(text: &str) -> Result<Event, Reject> {
    let [user, ip, result, ts] = split_exact::<4>(text, "userId,ip,success|fail,ts")?;
    Ok(event(
        ts_field("ts", ts)?,
        EventBody::Login(Login {
            user_id: id_field("user_id", user)?,
            ip: opt(ip),
            result: result.trim().to_string(),
        }),
    ))
}

/// `orderId,create|pay,txId,ts` (txId empty on create).
pub fn order(text: &str) -> Result<Event, Reject> {
    let [order_id, status, tx, ts] = split_exact::<4>(text, "orderId,create|pay,txId,ts")?;
    let order_id = order_id.trim();
    if order_id.is_empty() {
        return Err(Reject::missing("order_id"));
    }
    let status = status.trim();
    if status == "pay" && tx.trim().is_empty() {
        return Err(Reject::field(
            Reason::MissingField,
            "tx_id",
            "",
            "a pay event needs its transaction id",
        ));
    }
    Ok(event(
        ts_field("ts", ts)?,
        EventBody::Order(Order {
            order_id: order_id.into(),
            user_id: None,
            status: status.into(),
            amount: None,
            tx_id: opt(tx),
            item_id: None,
            qty: None,
            price: None,
            country: None,
        }),
    ))
}

/// `txId,payChannel,ts`.
pub fn receipt(text: &str) -> Result<Event, Reject> {
    let [tx, channel, ts] = split_exact::<3>(text, "txId,payChannel,ts")?;
    let tx = tx.trim();
    if tx.is_empty() {
        return Err(Reject::missing("tx_id"));
    }
    Ok(event(
        ts_field("ts", ts)?,
        EventBody::Payment(Payment {
            tx_id: tx.into(),
            channel: opt(channel),
            amount: None,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn course_lines_become_typed_events() {
        let e = ad_click("543462,1715,beijing,beijing,1511658000").unwrap();
        assert_eq!(e.ts, 1_511_658_000_000);
        assert!(
            matches!(e.body, EventBody::AdClick(ref a) if a.ad_id == "1715" && a.province.as_deref() == Some("beijing"))
        );
        let e = order("34729,create,,1558430842").unwrap();
        assert!(
            matches!(e.body, EventBody::Order(ref o) if o.tx_id.is_none() && o.status == "create")
        );
        let e = receipt("ewr342as4,wechat,1558430845").unwrap();
        assert!(matches!(e.body, EventBody::Payment(ref p) if p.tx_id == "ewr342as4"));
        let e = login("5402,83.149.11.115,success,1558430815").unwrap();
        assert!(matches!(e.body, EventBody::Login(ref l) if l.result == "success"));
    }

    #[test]
    fn broken_lines_say_why() {
        assert_eq!(
            login("5402,83.149.11.115,success").unwrap_err().reason,
            Reason::ColumnCount
        );
        assert_eq!(
            order("1,pay,,1558430842").unwrap_err().field.as_deref(),
            Some("tx_id")
        );
        assert_eq!(
            receipt(",wechat,1558430845").unwrap_err().reason,
            Reason::MissingField
        );
        assert_eq!(
            ad_click("1,2,x,y,z").unwrap_err().reason,
            Reason::BadTimestamp
        );
    }
}
