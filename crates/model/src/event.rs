//! Event types and their canonical flat JSON form.

use crate::fields::{FieldSource, Fields, read_object};
use crate::id::Id;
use crate::reject::{Reason, Reject};
use crate::rules::Rules;
use crate::time::format_ms;
use serde_json::{Map, Value};
use std::fmt;
use std::str::FromStr;

/// The tenant used when an event names none.
pub const DEFAULT_SHOP: &str = "default";

/// The kinds of events; each is its own lake table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    /// User behaviour on items: pv, cart, fav, buy.
    Behavior,
    /// Order lifecycle facts (and invoice lines).
    Order,
    /// Payment-provider receipts.
    Payment,
    /// Login attempts.
    Login,
    /// Ad clicks.
    AdClick,
    /// Page views / access-log lines.
    PageView,
}

impl EventType {
    /// Every type, in table order.
    pub const ALL: [EventType; 6] = [
        EventType::Behavior,
        EventType::Order,
        EventType::Payment,
        EventType::Login,
        EventType::AdClick,
        EventType::PageView,
    ];

    /// The name used in JSON (`type`) and as the lake table directory.
    pub fn name(self) -> &'static str {
        match self {
            EventType::Behavior => "behavior",
            EventType::Order => "order",
            EventType::Payment => "payment",
            EventType::Login => "login",
            EventType::AdClick => "ad_click",
            EventType::PageView => "page_view",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for EventType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        EventType::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = EventType::ALL.iter().map(|t| t.name()).collect();
                format!(
                    "unknown event type {s:?}; expected one of {}",
                    names.join(", ")
                )
            })
    }
}

/// One event: the common envelope around a typed body.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Client-supplied idempotency key, if any.
    pub event_id: Option<String>,
    /// Tenant; `None` means [`DEFAULT_SHOP`].
    pub shop: Option<String>,
    /// Event time, UTC milliseconds.
    pub ts: i64,
    /// Server receive time, UTC milliseconds, when known.
    pub received_at: Option<i64>,
    /// The typed payload.
    pub body: EventBody,
    /// Unknown extra fields, kept as a JSON object.
    pub props: Option<Map<String, Value>>,
}

/// The typed payload of an [`Event`].
#[derive(Debug, Clone, PartialEq)]
pub enum EventBody {
    /// See [`Behavior`].
    Behavior(Behavior),
    /// See [`Order`].
    Order(Order),
    /// See [`Payment`].
    Payment(Payment),
    /// See [`Login`].
    Login(Login),
    /// See [`AdClick`].
    AdClick(AdClick),
    /// See [`PageView`].
    PageView(PageView),
}

/// A user's action on an item.
#[derive(Debug, Clone, PartialEq)]
pub struct Behavior {
    /// Who.
    pub user_id: Id,
    /// Which item.
    pub item_id: Id,
    /// The item's category, when known.
    pub category_id: Option<Id>,
    /// `pv`, `cart`, `fav`, `buy` or a configured extra action.
    pub action: String,
    /// Client session, when known.
    pub session_id: Option<String>,
    /// Unit price at the time of the action.
    pub price: Option<f64>,
    /// Quantity (for cart/buy).
    pub qty: Option<i64>,
    /// Acquisition channel (app, web, ad, ...).
    pub channel: Option<String>,
}

/// An order lifecycle fact; invoice imports add the line's item, quantity, price and country.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    /// The order (invoice) number.
    pub order_id: String,
    /// The customer, when known.
    pub user_id: Option<Id>,
    /// `create`, `pay`, `cancel` or `refund`.
    pub status: String,
    /// Order (or line) amount.
    pub amount: Option<f64>,
    /// Payment transaction id (set on `pay`).
    pub tx_id: Option<String>,
    /// The line's item, for invoice lines.
    pub item_id: Option<Id>,
    /// The line's quantity (negative on returns).
    pub qty: Option<i64>,
    /// The line's unit price.
    pub price: Option<f64>,
    /// The customer's country.
    pub country: Option<String>,
}

/// A payment provider's receipt.
#[derive(Debug, Clone, PartialEq)]
pub struct Payment {
    /// The transaction id matching [`Order::tx_id`].
    pub tx_id: String,
    /// Payment channel (alipay, wechat, card, ...).
    pub channel: Option<String>,
    /// Amount paid.
    pub amount: Option<f64>,
}

/// A login attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Login {
    /// Who tried.
    pub user_id: Id,
    /// From where.
    pub ip: Option<String>,
    /// `success` or `fail`.
    pub result: String,
}

/// A click on an ad.
#[derive(Debug, Clone, PartialEq)]
pub struct AdClick {
    /// Who clicked.
    pub user_id: Id,
    /// Which ad.
    pub ad_id: String,
    /// Province of the click.
    pub province: Option<String>,
    /// City of the click.
    pub city: Option<String>,
}

/// A page view or access-log line.
#[derive(Debug, Clone, PartialEq)]
pub struct PageView {
    /// Client address.
    pub ip: Option<String>,
    /// Logged-in user, when known.
    pub user_id: Option<Id>,
    /// HTTP method.
    pub method: Option<String>,
    /// Requested URL (path and query).
    pub url: String,
    /// HTTP status.
    pub status: Option<i32>,
    /// Client user agent.
    pub user_agent: Option<String>,
}

/// Order statuses.
pub const ORDER_STATUSES: [&str; 4] = ["create", "pay", "cancel", "refund"];
/// Login results.
pub const LOGIN_RESULTS: [&str; 2] = ["success", "fail"];

impl Event {
    /// The event's type.
    pub fn event_type(&self) -> EventType {
        match self.body {
            EventBody::Behavior(_) => EventType::Behavior,
            EventBody::Order(_) => EventType::Order,
            EventBody::Payment(_) => EventType::Payment,
            EventBody::Login(_) => EventType::Login,
            EventBody::AdClick(_) => EventType::AdClick,
            EventBody::PageView(_) => EventType::PageView,
        }
    }

    /// The tenant, defaulted.
    pub fn shop(&self) -> &str {
        self.shop.as_deref().unwrap_or(DEFAULT_SHOP)
    }

    /// Checks the rules a well-shaped event must still satisfy.
    pub fn validate(&self, rules: &Rules) -> Result<(), Reject> {
        rules.check_ts(self.ts)?;
        if let Some(s) = &self.shop {
            check_shop(s)?;
        }
        match &self.body {
            EventBody::Behavior(b) => {
                if !rules.action_known(&b.action) {
                    return Err(Reject::field(
                        Reason::UnknownAction,
                        "action",
                        &b.action,
                        "must be pv, cart, fav, buy or a configured extra action",
                    ));
                }
                check_amount("price", b.price)?;
            }
            EventBody::Order(o) => {
                nonempty("order_id", &o.order_id)?;
                if !ORDER_STATUSES.contains(&o.status.as_str()) {
                    return Err(Reject::field(
                        Reason::UnknownAction,
                        "status",
                        &o.status,
                        "must be create, pay, cancel or refund",
                    ));
                }
                check_amount("amount", o.amount)?;
                check_amount("price", o.price)?;
            }
            EventBody::Payment(p) => {
                nonempty("tx_id", &p.tx_id)?;
                check_amount("amount", p.amount)?;
            }
            EventBody::Login(l) => {
                if !LOGIN_RESULTS.contains(&l.result.as_str()) {
                    return Err(Reject::field(
                        Reason::UnknownAction,
                        "result",
                        &l.result,
                        "must be success or fail",
                    ));
                }
            }
            EventBody::AdClick(a) => nonempty("ad_id", &a.ad_id)?,
            EventBody::PageView(p) => nonempty("url", &p.url)?,
        }
        Ok(())
    }

    /// The canonical flat JSON object (`type`, envelope, body fields, `props`).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("type".into(), self.event_type().name().into());
        if let Some(id) = &self.event_id {
            m.insert("event_id".into(), id.clone().into());
        }
        if let Some(s) = &self.shop {
            m.insert("shop".into(), s.clone().into());
        }
        m.insert("ts".into(), format_ms(self.ts).into());
        if let Some(r) = self.received_at {
            m.insert("received_at".into(), format_ms(r).into());
        }
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                m.insert(k.into(), v);
            }
        };
        let id = |i: &Id| match i {
            Id::Num(n) => Value::from(*n),
            Id::Key(k) => Value::from(k.to_string()),
        };
        let s = |v: &Option<String>| v.clone().map(Value::from);
        match &self.body {
            EventBody::Behavior(b) => {
                put("user_id", Some(id(&b.user_id)));
                put("item_id", Some(id(&b.item_id)));
                put("category_id", b.category_id.as_ref().map(id));
                put("action", Some(b.action.clone().into()));
                put("session_id", s(&b.session_id));
                put("price", b.price.map(Value::from));
                put("qty", b.qty.map(Value::from));
                put("channel", s(&b.channel));
            }
            EventBody::Order(o) => {
                put("order_id", Some(o.order_id.clone().into()));
                put("user_id", o.user_id.as_ref().map(id));
                put("status", Some(o.status.clone().into()));
                put("amount", o.amount.map(Value::from));
                put("tx_id", s(&o.tx_id));
                put("item_id", o.item_id.as_ref().map(id));
                put("qty", o.qty.map(Value::from));
                put("price", o.price.map(Value::from));
                put("country", s(&o.country));
            }
            EventBody::Payment(p) => {
                put("tx_id", Some(p.tx_id.clone().into()));
                put("channel", s(&p.channel));
                put("amount", p.amount.map(Value::from));
            }
            EventBody::Login(l) => {
                put("user_id", Some(id(&l.user_id)));
                put("ip", s(&l.ip));
                put("result", Some(l.result.clone().into()));
            }
            EventBody::AdClick(a) => {
                put("user_id", Some(id(&a.user_id)));
                put("ad_id", Some(a.ad_id.clone().into()));
                put("province", s(&a.province));
                put("city", s(&a.city));
            }
            EventBody::PageView(p) => {
                put("ip", s(&p.ip));
                put("user_id", p.user_id.as_ref().map(id));
                put("method", s(&p.method));
                put("url", Some(p.url.clone().into()));
                put("status", p.status.map(Value::from));
                put("user_agent", s(&p.user_agent));
            }
        }
        if let Some(p) = &self.props {
            m.insert("props".into(), Value::Object(p.clone()));
        }
        Value::Object(m)
    }

    /// Reads the canonical JSON form, naming the field and rule on any problem. Unknown fields go
    /// to `props`; `type` may be omitted when `default_type` is given. Does not apply [`Rules`]:
    /// call [`Event::validate`] for that.
    pub fn from_json(value: Value, default_type: Option<EventType>) -> Result<Event, Reject> {
        let Value::Object(m) = value else {
            return Err(not_an_object());
        };
        Event::from_fields(m, default_type)
    }

    /// [`Event::from_json`] straight from JSON text, without building a `serde_json::Map`
    /// first (the ingest hot path); gives exactly the same event or rejection.
    pub fn from_json_slice(bytes: &[u8], default_type: Option<EventType>) -> Result<Event, Reject> {
        match read_object(bytes)? {
            Some(f) => Event::from_fields(f, default_type),
            None => Err(not_an_object()),
        }
    }

    fn from_fields<S: FieldSource>(
        mut m: S,
        default_type: Option<EventType>,
    ) -> Result<Event, Reject> {
        let ty = match m.remove_field("type") {
            Some(Value::String(t)) => t
                .parse::<EventType>()
                .map_err(|e| Reject::field(Reason::UnknownType, "type", &t, e))?,
            Some(other) => {
                return Err(Reject::field(
                    Reason::BadValue,
                    "type",
                    &other.to_string(),
                    "must be a string",
                ));
            }
            None => default_type.ok_or_else(|| Reject::missing("type"))?,
        };
        let mut f = Fields(&mut m);
        let event_id = f.opt_str("event_id")?;
        let shop = f.opt_str("shop")?;
        let ts = f.ts("ts")?.ok_or_else(|| Reject::missing("ts"))?;
        let received_at = f.ts("received_at")?;
        let body = match ty {
            EventType::Behavior => EventBody::Behavior(Behavior {
                user_id: f.req_id("user_id")?,
                item_id: f.req_id("item_id")?,
                category_id: f.opt_id("category_id")?,
                action: f.req_str("action")?,
                session_id: f.opt_str("session_id")?,
                price: f.opt_f64("price")?,
                qty: f.opt_i64("qty")?,
                channel: f.opt_str("channel")?,
            }),
            EventType::Order => EventBody::Order(Order {
                order_id: f.req_str("order_id")?,
                user_id: f.opt_id("user_id")?,
                status: f.req_str("status")?,
                amount: f.opt_f64("amount")?,
                tx_id: f.opt_str("tx_id")?,
                item_id: f.opt_id("item_id")?,
                qty: f.opt_i64("qty")?,
                price: f.opt_f64("price")?,
                country: f.opt_str("country")?,
            }),
            EventType::Payment => EventBody::Payment(Payment {
                tx_id: f.req_str("tx_id")?,
                channel: f.opt_str("channel")?,
                amount: f.opt_f64("amount")?,
            }),
            EventType::Login => EventBody::Login(Login {
                user_id: f.req_id("user_id")?,
                ip: f.opt_str("ip")?,
                result: f.req_str("result")?,
            }),
            EventType::AdClick => EventBody::AdClick(AdClick {
                user_id: f.req_id("user_id")?,
                ad_id: f.req_str("ad_id")?,
                province: f.opt_str("province")?,
                city: f.opt_str("city")?,
            }),
            EventType::PageView => EventBody::PageView(PageView {
                ip: f.opt_str("ip")?,
                user_id: f.opt_id("user_id")?,
                method: f.opt_str("method")?,
                url: f.req_str("url")?,
                status: f
                    .opt_i64("status")?
                    .map(|s| s.clamp(i32::MIN as i64, i32::MAX as i64) as i32),
                user_agent: f.opt_str("user_agent")?,
            }),
        };
        let mut props = match m.remove_field("props") {
            None | Some(Value::Null) => None,
            Some(Value::Object(p)) => Some(p),
            Some(other) => {
                return Err(Reject::field(
                    Reason::BadValue,
                    "props",
                    &other.to_string(),
                    "must be an object",
                ));
            }
        };
        let rest = m.into_rest();
        if !rest.is_empty() {
            props.get_or_insert_with(Map::new).extend(rest);
        }
        Ok(Event {
            event_id,
            shop,
            ts,
            received_at,
            body,
            props,
        })
    }
}

/// Shop names become directory names, so they are restricted to a safe alphabet.
pub fn check_shop(s: &str) -> Result<(), Reject> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
        && !s.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(Reject::field(
            Reason::BadValue,
            "shop",
            s,
            "1-64 characters of a-z, A-Z, 0-9, _ and -",
        ))
    }
}

fn nonempty(field: &str, v: &str) -> Result<(), Reject> {
    if v.trim().is_empty() {
        Err(Reject::missing(field))
    } else {
        Ok(())
    }
}

fn check_amount(field: &str, v: Option<f64>) -> Result<(), Reject> {
    match v {
        Some(x) if !x.is_finite() => Err(Reject::field(
            Reason::BadValue,
            field,
            &x.to_string(),
            "must be a finite number",
        )),
        _ => Ok(()),
    }
}

fn not_an_object() -> Reject {
    Reject::row(Reason::Malformed, "an event must be a JSON object")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn behavior(action: &str) -> Event {
        Event {
            event_id: Some("e1".into()),
            shop: Some("s1".into()),
            ts: 1_511_658_000_000,
            received_at: None,
            body: EventBody::Behavior(Behavior {
                user_id: Id::Num(1),
                item_id: Id::Key("SKU-9".into()),
                category_id: Some(Id::Num(3)),
                action: action.into(),
                session_id: None,
                price: Some(9.5),
                qty: None,
                channel: Some("app".into()),
            }),
            props: Some(Map::from_iter([("color".to_string(), json!("red"))])),
        }
    }

    #[test]
    fn json_round_trip_keeps_every_field_and_unknown_props() {
        let e = behavior("cart");
        assert_eq!(Event::from_json(e.to_json(), None).unwrap(), e);
        let v = json!({"type":"behavior","ts":1511658000,"user_id":"1","item_id":2,"action":"pv","extra":1});
        let got = Event::from_json(v, None).unwrap();
        assert_eq!(got.props.unwrap()["extra"], json!(1));
    }

    #[test]
    fn problems_name_field_value_and_rule() {
        let r = Event::from_json(
            json!({"type":"behavior","ts":"yesterday","user_id":1,"item_id":2,"action":"pv"}),
            None,
        )
        .unwrap_err();
        assert_eq!(
            (r.reason, r.field.as_deref(), r.value.as_deref()),
            (Reason::BadTimestamp, Some("ts"), Some("yesterday"))
        );
        let r = Event::from_json(
            json!({"type":"behavior","ts":1,"item_id":2,"action":"pv"}),
            None,
        )
        .unwrap_err();
        assert_eq!(
            (r.reason, r.field.as_deref()),
            (Reason::MissingField, Some("user_id"))
        );
        let r = Event::from_json(json!({"type":"refund","ts":1}), None).unwrap_err();
        assert_eq!(r.reason, Reason::UnknownType);
        let r = behavior("like").validate(&Rules::default()).unwrap_err();
        assert_eq!(
            (r.reason, r.value.as_deref()),
            (Reason::UnknownAction, Some("like"))
        );
        let r = Event::from_json(json!([1]), None).unwrap_err();
        assert_eq!(r.reason, Reason::Malformed);
    }

    #[test]
    fn shops_must_be_safe_directory_names() {
        assert!(check_shop("shop_1-a").is_ok());
        for bad in ["", "../x", "a/b", "-x", "a b"] {
            assert!(check_shop(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn numeric_json_ids_equal_the_ids_of_their_text() {
        for n in [0i64, 7, (1 << 62) - 1, 1 << 62, i64::MAX] {
            let v = serde_json::json!({"type": "behavior", "ts": 1_511_658_000, "user_id": n, "item_id": n, "action": "pv"});
            let e = Event::from_json(v, None).unwrap();
            let EventBody::Behavior(b) = e.body else {
                panic!("behaviour expected")
            };
            assert_eq!(b.user_id, Id::parse(&n.to_string()).unwrap(), "{n}");
            assert_eq!(
                b.item_id.as_i64(),
                Id::parse(&n.to_string()).unwrap().as_i64()
            );
        }
    }

    #[test]
    fn a_key_named_twice_rejects_the_row_and_names_the_key() {
        let dup = |t: &str| Event::from_json_slice(t.as_bytes(), None).map(|_| ());
        let base = r#""type":"behavior","ts":1511658000,"item_id":2,"action":"pv""#;
        let r = dup(&format!(r#"{{{base},"user_id":1,"user_id":2}}"#)).unwrap_err();
        assert_eq!(
            (r.reason, r.field.as_deref()),
            (Reason::DuplicateField, Some("user_id"))
        );
        assert_eq!(r.reason.code(), "duplicate_field");
        // An escaped spelling is the same key; the first repeated key is the one named.
        let r = dup(&format!(
            r#"{{{base},"user_id":1,"x":1,"user\u005fid":2,"x":3}}"#
        ));
        assert_eq!(r.unwrap_err().field.as_deref(), Some("user_id"));
        let r = dup(&format!(
            r#"{{{base},"user_id":1,"props":{{"c":"red","c":"blue"}}}}"#
        ));
        assert_eq!(r.unwrap_err().field.as_deref(), Some("props.c"));
        // The same name at two levels is no duplicate; bad JSON after a duplicate is malformed.
        dup(&format!(
            r#"{{{base},"user_id":1,"c":1,"props":{{"c":2,"d":{{"c":3}}}}}}"#
        ))
        .unwrap();
        let r = dup(&format!(r#"{{{base},"user_id":1,"user_id":2,"#)).unwrap_err();
        assert_eq!(r.reason, Reason::Malformed);
    }

    /// The reference path: a `Value` first, then [`Event::from_json`] (errors as the NDJSON
    /// parser words them).
    fn via_value(bytes: &[u8]) -> Result<Event, Reject> {
        let v: Value = serde_json::from_slice(bytes).map_err(|e| {
            Reject::row(
                Reason::Malformed,
                format!("invalid JSON at column {}: {e}", e.column()),
            )
        })?;
        Event::from_json(v, None)
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        prop_oneof![
            Just("null".to_string()),
            Just("true".to_string()),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<u64>().prop_map(|n| n.to_string()),
            (-1e20f64..1e20).prop_map(|f| format!("{f:?}")),
            Just("1511658000".to_string()),
            Just("1511658000123".to_string()),
            Just("\"2017-11-26T01:00:00Z\"".to_string()),
            Just("\"pv\"".to_string()),
            Just("\"buy\"".to_string()),
            Just("\"behavior\"".to_string()),
            Just("\"order\"".to_string()),
            Just("\"SKU-9\"".to_string()),
            Just("\"  \"".to_string()),
            Just("\"12\"".to_string()),
            Just("\"x\\u00e9\\n\"".to_string()),
            Just("[1,2]".to_string()),
            Just("{\"a\":{\"b\":[null]}}".to_string()),
        ]
    }

    proptest::proptest! {
        #[test]
        fn the_direct_parse_equals_the_value_parse(
            fields in proptest::collection::vec(
                (
                    proptest::prop_oneof![
                        proptest::strategy::Just("type"), proptest::strategy::Just("ts"),
                        proptest::strategy::Just("user_id"), proptest::strategy::Just("item_id"),
                        proptest::strategy::Just("category_id"), proptest::strategy::Just("action"),
                        proptest::strategy::Just("event_id"), proptest::strategy::Just("shop"),
                        proptest::strategy::Just("price"), proptest::strategy::Just("qty"),
                        proptest::strategy::Just("props"), proptest::strategy::Just("order_id"),
                        proptest::strategy::Just("status"), proptest::strategy::Just("amount"),
                        proptest::strategy::Just("received_at"), proptest::strategy::Just("extra"),
                        proptest::strategy::Just("url"), proptest::strategy::Just("session_id"),
                    ],
                    json_value(),
                ),
                0..12,
            ),
            cut in proptest::option::of(0usize..200),
            wrap in 0u8..10,
        ) {
            let body: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
            let mut text = format!("{{{}}}", body.join(","));
            if wrap == 0 {
                text = format!("[{text}]");
            }
            let complete = wrap != 0 && cut.is_none_or(|c| c >= text.len());
            if let Some(c) = cut {
                text.truncate(c.min(text.len()));
            }
            // A `Value` keeps the last of repeated keys; the direct parse refuses the row.
            let seen = |i: usize| fields[..i].iter().any(|(k, _)| *k == fields[i].0);
            let dup = (0..fields.len()).find(|&i| seen(i)).filter(|_| complete);
            let a = match dup {
                Some(i) => Err(Reject::duplicate_field(fields[i].0)),
                None => via_value(text.as_bytes()),
            };
            let b = Event::from_json_slice(text.as_bytes(), None);
            proptest::prop_assert_eq!(a, b, "{}", text);
        }
    }
}
