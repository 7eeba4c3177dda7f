//! Property-based tests of the `Last-Event-ID` parser of the SSE route
//! (`paliadin_api::routes::stream::last_event_id`): never a panic on any header value a client
//! can send; every non-negative `i32` (padded with spaces or not) resumes after itself; anything
//! else is a 400 `invalid_last_event_id`, never a silent restart from 0 or a huge seq.
//! Cases: `PROPTEST_CASES` (default 256).

use axum::http::{HeaderMap, HeaderValue};
use paliadin_api::error::AppError;
use paliadin_api::routes::stream::last_event_id;
use proptest::prelude::*;

fn with(value: HeaderValue) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("last-event-id", value);
    h
}

fn refused(r: &Result<i32, AppError>) -> bool {
    matches!(r, Err(AppError::BadRequest("invalid_last_event_id", _)))
}

proptest! {
    #[test]
    fn any_header_value_parses_or_is_refused(raw in prop::collection::vec(any::<u8>(), 0..40)) {
        // Only what a client can send reaches the route: a valid header value.
        let Ok(value) = HeaderValue::from_bytes(&raw) else { return Ok(()) };
        let r = last_event_id(&with(value));
        match &r {
            Ok(n) => {
                prop_assert!(*n >= 0);
                let s = std::str::from_utf8(&raw).expect("accepted values are text").trim();
                prop_assert!(s.is_empty() || s.parse::<i32>() == Ok(*n));
            }
            Err(_) => prop_assert!(refused(&r)),
        }
    }

    #[test]
    fn a_seq_resumes_after_itself(n in 0..=i32::MAX, left in " {0,3}", right in " {0,3}") {
        let value = HeaderValue::from_str(&format!("{left}{n}{right}")).expect("header");
        prop_assert_eq!(last_event_id(&with(value)).ok(), Some(n));
    }

    #[test]
    fn negatives_overflows_and_words_are_refused(
        bad in prop_oneof![
            (i32::MIN..0).prop_map(|n| n.to_string()),
            (i32::MAX as i64 + 1..i64::MAX).prop_map(|n| n.to_string()),
            "[0-9]{0,3}[a-zA-Z.,_][0-9a-z]{0,3}",
            "[0-9]{1,3}[-+][0-9]{1,3}",
        ],
    ) {
        let r = last_event_id(&with(HeaderValue::from_str(&bad).expect("header")));
        prop_assert!(refused(&r), "{bad:?} gave {r:?}");
    }
}

#[test]
fn absent_or_blank_starts_from_the_beginning() {
    assert_eq!(last_event_id(&HeaderMap::new()).ok(), Some(0));
    assert_eq!(
        last_event_id(&with(HeaderValue::from_static(""))).ok(),
        Some(0)
    );
}
