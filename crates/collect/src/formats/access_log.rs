//! Web server access log: `ip - - dd/MM/yyyy:HH:mm:ss +0000 METHOD url`, optionally followed by
//! `status` and a quoted user agent (combined-log style lines are accepted too).

use model::{Event, EventBody, PageView, Reason, Reject};

/// Parses one access-log line.
pub fn parse(text: &str) -> Result<Event, Reject> {
    let mut it = text.split_ascii_whitespace();
    let mut next = |what: &str| {
        it.next().ok_or_else(|| {
            Reject::row(
                Reason::ColumnCount,
                format!("expected `ip - - dd/MM/yyyy:HH:mm:ss +0000 METHOD url`, missing {what}"),
            )
        })
    };
    let ip = next("ip")?;
    let _ident = next("ident")?;
    let user = next("user")?;
    let time = next("time")?.trim_start_matches('[');
    let zone = next("zone")?.trim_end_matches(']');
    let method = next("method")?.trim_start_matches('"');
    let url = next("url")?.trim_end_matches('"');
    let ts = parse_clf_time(time, zone)?;
    if !method.bytes().all(|c| c.is_ascii_uppercase()) || method.is_empty() {
        return Err(Reject::field(
            Reason::BadValue,
            "method",
            method,
            "an HTTP method in upper case",
        ));
    }
    let rest: Vec<&str> = it.collect();
    let status = rest
        .iter()
        .find_map(|s| s.parse::<i32>().ok().filter(|s| (100..600).contains(s)));
    let user_agent = text
        .rsplit_once('"')
        .and_then(|(head, _)| head.rsplit_once('"'))
        .map(|(_, ua)| ua.to_string());
    Ok(Event {
        event_id: None,
        shop: None,
        ts,
        received_at: None,
        body: EventBody::PageView(PageView {
            ip: Some(ip.to_string()),
            user_id: if user == "-" {
                None
            } else {
                model::Id::parse(user)
            },
            method: Some(method.to_string()),
            url: url.to_string(),
            status,
            user_agent: user_agent.filter(|u| !u.is_empty() && u != "-"),
        }),
        props: None,
    })
}

/// `17/05/2015:10:05:03` with zone `+0000` (also `17/May/2015`).
fn parse_clf_time(time: &str, zone: &str) -> Result<i64, Reject> {
    let bad = || {
        Reject::field(
            Reason::BadTimestamp,
            "time",
            &format!("{time} {zone}"),
            "expected dd/MM/yyyy:HH:mm:ss +hhmm",
        )
    };
    let fixed = chrono::DateTime::parse_from_str(&format!("{time} {zone}"), "%d/%m/%Y:%H:%M:%S %z")
        .or_else(|_| {
            chrono::DateTime::parse_from_str(&format!("{time} {zone}"), "%d/%b/%Y:%H:%M:%S %z")
        })
        .map_err(|_| bad())?;
    Ok(fixed.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn course_and_combined_lines_parse() {
        let e = parse("83.149.9.216 - - 17/05/2015:10:05:03 +0000 GET /presentations/kibana.png")
            .unwrap();
        assert_eq!(e.ts, 1_431_857_103_000);
        assert!(
            matches!(e.body, EventBody::PageView(ref p) if p.url == "/presentations/kibana.png" && p.status.is_none())
        );
        let e = parse(r#"1.2.3.4 - bob [17/May/2015:10:05:03 +0200] "POST /cart HTTP/1.1" 302 12 "-" "Mozilla/5.0""#).unwrap();
        assert_eq!(e.ts, 1_431_857_103_000 - 2 * 3_600_000);
        assert!(
            matches!(e.body, EventBody::PageView(ref p) if p.status == Some(302) && p.user_agent.as_deref() == Some("Mozilla/5.0"))
        );
    }

    #[test]
    fn broken_lines_say_why() {
        assert_eq!(
            parse("83.149.9.216 - - 17/05/2015:10:05:03")
                .unwrap_err()
                .reason,
            Reason::ColumnCount
        );
        assert_eq!(
            parse("1.1.1.1 - - 32/05/2015:10:05:03 +0000 GET /")
                .unwrap_err()
                .reason,
            Reason::BadTimestamp
        );
        assert_eq!(
            parse("1.1.1.1 - - 17/05/2015:10:05:03 +0000 get /")
                .unwrap_err()
                .reason,
            Reason::BadValue
        );
    }
}
