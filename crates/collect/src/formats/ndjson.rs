//! One JSON event per line, in the canonical flat form of `model::Event::to_json`.

use super::{LineOptions, Parsed};
use model::{Event, Reason, Reject};

/// Deepest nesting accepted inside one event (props included).
pub const MAX_DEPTH: usize = 64;

/// Parses one NDJSON line.
pub fn parse(line: &[u8], opts: &LineOptions) -> Result<Parsed, Reject> {
    Ok(Parsed::Event(Box::new(parse_event(line, opts)?)))
}

/// Parses one JSON event; the import's shop applies when the event names none. A leading
/// byte order mark (the first row of a body saved by some editors) is ignored.
pub fn parse_event(bytes: &[u8], opts: &LineOptions) -> Result<Event, Reject> {
    let bytes = bytes.strip_prefix(crate::options::BOM).unwrap_or(bytes);
    check_depth(bytes)?;
    let mut e = Event::from_json_slice(bytes, None)?;
    if e.shop.is_none() {
        e.shop = opts.shop.clone();
    }
    Ok(e)
}

/// Refuses absurd nesting before serde recurses into it.
fn check_depth(bytes: &[u8]) -> Result<(), Reject> {
    let (mut depth, mut in_str, mut esc) = (0usize, false, false);
    for &c in bytes {
        if in_str {
            match (esc, c) {
                (true, _) => esc = false,
                (false, b'\\') => esc = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            b'"' => in_str = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(Reject::row(
                        Reason::Malformed,
                        format!("JSON nested deeper than {MAX_DEPTH} levels"),
                    ));
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_parse_and_take_the_import_shop_by_default() {
        let opts = LineOptions {
            shop: Some("s9".into()),
            ..Default::default()
        };
        let e = parse_event(
            br#"{"type":"login","ts":1558430815,"user_id":5,"result":"fail"}"#,
            &opts,
        )
        .unwrap();
        assert_eq!(e.shop.as_deref(), Some("s9"));
        let e = parse_event(
            br#"{"type":"login","shop":"a","ts":1558430815,"user_id":5,"result":"fail"}"#,
            &opts,
        )
        .unwrap();
        assert_eq!(e.shop.as_deref(), Some("a"));
    }

    #[test]
    fn bad_json_and_deep_nesting_are_rejected() {
        let opts = LineOptions::default();
        assert_eq!(
            parse_event(br#"{"type":"login","#, &opts)
                .unwrap_err()
                .reason,
            Reason::Malformed
        );
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(
            parse_event(deep.as_bytes(), &opts)
                .unwrap_err()
                .rule
                .contains("nested")
        );
    }
}
