//! Turning compact records into model [`Event`]s.

use crate::behavior::CHANNELS;
use crate::extras::{PROBES, STATIC_ASSETS, url};
use crate::orders::{PAY_CHANNELS, order_id, tx_id};
use crate::record::{Kind, NO_USER, Rec};
use crate::rng::{hash2, mix64};
use crate::users::{PROVINCES, format_ip};
use crate::world::Model;
use ::model::{AdClick, Behavior, Event, EventBody, Id, Login, Order, PageView, Payment};

/// Browsers of web users (one per user).
const USER_AGENTS: [&str; 5] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/62.0.3202.94 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_13_1) AppleWebKit/604.3.5 (KHTML, like Gecko) Version/11.0.1 Safari/604.3.5",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 11_1 like Mac OS X) AppleWebKit/604.3.5 (KHTML, like Gecko) Mobile/15B93",
    "Mozilla/5.0 (Linux; Android 7.0; MI 5s) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/61.0.3163.98 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
];
/// Clients of scanners.
const BOT_AGENTS: [&str; 3] = [
    "python-requests/2.18.4",
    "curl/7.54.0",
    "Mozilla/5.0 (compatible; Nimbostratus-Bot/v1.3.2)",
];

fn cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The session id of a session key (a bijection, so ids are unique).
pub(crate) fn session_id(seed: u64, key: u64) -> String {
    format!("{:016x}", mix64(key ^ mix64(seed ^ 0x5e55)))
}

fn url_of(m: &Model, r: &Rec) -> String {
    let item = || m.catalog.item_id(r.item);
    match r.x {
        url::HOME => "/".to_string(),
        url::ITEM => format!("/item.htm?id={}", item()),
        url::CATEGORY => format!("/list.htm?cat={}", m.catalog.category_id(r.cat)),
        url::ASSET => match STATIC_ASSETS.get(r.item as usize) {
            Some(a) => (*a).to_string(),
            None => format!(
                "/img/item/{}.jpg",
                m.catalog.item_id(r.item - STATIC_ASSETS.len() as u32)
            ),
        },
        url::CART => format!("/cart/add?item_id={}", item()),
        url::FAV => format!("/fav/add?item_id={}", item()),
        url::ORDER => format!("/order/confirm?item_id={}", item()),
        _ => PROBES.get(r.item as usize).map_or("/", |p| *p).to_string(),
    }
}

/// The model event of a record.
pub(crate) fn to_event(m: &Model, r: &Rec) -> Event {
    let seed = m.cfg.seed;
    let user = || Id::Num(m.users.id(r.user));
    let item = || Id::Num(m.catalog.item_id(r.item));
    let price = || m.catalog.price(r.item, r.cat, &m.normal);
    let order = |status: &str, tx: Option<String>| {
        let p = price();
        EventBody::Order(Order {
            order_id: order_id(seed, r.aux).to_string(),
            user_id: Some(user()),
            status: status.to_string(),
            amount: Some(cents(p * r.y as f64)),
            tx_id: tx,
            item_id: Some(item()),
            qty: Some(r.y as i64),
            price: Some(p),
            country: None,
        })
    };
    let body = match r.kind {
        Kind::Pv | Kind::Cart | Kind::Fav | Kind::Buy => EventBody::Behavior(Behavior {
            user_id: user(),
            item_id: item(),
            category_id: Some(Id::Num(m.catalog.category_id(r.cat))),
            action: r.kind.action().to_string(),
            session_id: Some(session_id(seed, r.aux)),
            price: Some(price()),
            qty: matches!(r.kind, Kind::Cart | Kind::Buy)
                .then(|| crate::orders::quantity(seed, r.aux, r.y) as i64),
            channel: CHANNELS.get(r.x as usize).map(|c| c.to_string()),
        }),
        Kind::OrderCreate => order("create", None),
        Kind::OrderPay => order("pay", Some(tx_id(seed, r.aux))),
        Kind::OrderCancel => order("cancel", None),
        Kind::Payment => EventBody::Payment(Payment {
            tx_id: tx_id(seed, r.aux),
            channel: PAY_CHANNELS.get(r.x as usize).map(|c| c.0.to_string()),
            amount: Some(cents(price() * r.y as f64)),
        }),
        Kind::LoginOk | Kind::LoginFail => EventBody::Login(Login {
            user_id: user(),
            ip: Some(format_ip(r.aux as u32)),
            result: if r.kind == Kind::LoginOk {
                "success"
            } else {
                "fail"
            }
            .to_string(),
        }),
        Kind::AdClick => {
            let p = PROVINCES.get(r.x as usize);
            EventBody::AdClick(AdClick {
                user_id: user(),
                ad_id: m.ad_ids.id(r.item).to_string(),
                province: p.map(|p| p.0.to_string()),
                city: p.and_then(|p| p.2.get(r.y as usize)).map(|c| c.to_string()),
            })
        }
        Kind::PageView => {
            let anonymous = r.user == NO_USER;
            let ua = if anonymous {
                BOT_AGENTS[(hash2(seed, r.aux as u32 as u64) % BOT_AGENTS.len() as u64) as usize]
            } else {
                USER_AGENTS[(hash2(seed, r.user as u64) % USER_AGENTS.len() as u64) as usize]
            };
            let post = matches!(r.x, url::CART | url::FAV | url::ORDER);
            EventBody::PageView(PageView {
                ip: Some(format_ip(r.aux as u32)),
                user_id: (!anonymous).then(user),
                method: Some(if post { "POST" } else { "GET" }.to_string()),
                url: url_of(m, r),
                status: Some(r.y as i32),
                user_agent: Some(ua.to_string()),
            })
        }
    };
    Event {
        event_id: None,
        shop: m.cfg.shop.clone(),
        ts: r.ts,
        received_at: None,
        body,
        props: None,
    }
}
