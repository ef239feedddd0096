//! A top-level JSON array of events, streamed: [`Scanner`] cuts out each element and each is
//! parsed on its own with [`super::ndjson::parse_event`], so memory stays bounded by the
//! largest element. A broken element is quarantined and the scan resynchronises on the next
//! plausible element (see [`super::json_scan`]); a truncated array quarantines its trailing
//! partial element. Record number = position in the element sequence (1-based).

use super::Parsed;
use super::json_scan::{Scanned, Scanner};
use super::records::{Sink, format_error, io_error};
use crate::options::{CollectError, ParseOptions};
use model::{Reason, Reject};
use std::io::Read;

/// Reads the whole input into `sink`.
pub(crate) fn read(
    reader: impl Read,
    opts: &ParseOptions,
    sink: &mut Sink<'_>,
) -> Result<(), CollectError> {
    let (source, format) = (sink.source, sink.format);
    let mut sc = Scanner::new(reader, sink.base);
    if !sc.open().map_err(|e| io_error(source, e))? {
        return Err(format_error(
            source,
            format,
            "expected a JSON array of event objects: the input must start with `[`",
        ));
    }
    let mut n = 0u64;
    while let Some((offset, scanned)) = sc.next_item().map_err(|e| io_error(source, e))? {
        n += 1;
        if sink.skipped(n) {
            continue;
        }
        let raw = &sc.elem;
        let parsed = match scanned {
            Scanned::Element => {
                super::ndjson::parse_event(raw, &opts.line).map(|e| Parsed::Event(Box::new(e)))
            }
            Scanned::Broken(why) => Err(Reject::row(Reason::Malformed, why)),
        };
        sink.at(n).record(n, Some(offset), raw, parsed);
        if !sink.end_record() {
            return Ok(());
        }
    }
    Ok(())
}
