use axum::http::{HeaderMap, HeaderValue};

use super::{same_origin, same_secret, session_cookie};

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(*k, HeaderValue::from_static(v));
    }
    h
}

#[test]
fn the_session_cookie_is_found_among_others_and_in_any_cookie_header() {
    assert_eq!(
        session_cookie(&headers(&[("cookie", "spygroup_session=abc")])).as_deref(),
        Some("abc")
    );
    let h = headers(&[
        ("cookie", "a=1"),
        ("cookie", "theme=dark; spygroup_session=x9 ; b=2"),
    ]);
    assert_eq!(session_cookie(&h).as_deref(), Some("x9"));
    assert_eq!(
        session_cookie(&headers(&[("cookie", "spygroup_session=")])),
        None
    );
    assert_eq!(
        session_cookie(&headers(&[("cookie", "spygroup_sessionx=1")])),
        None
    );
    assert_eq!(session_cookie(&HeaderMap::new()), None);
}

#[test]
fn only_the_consoles_own_origin_counts_as_same_origin() {
    assert!(
        same_origin(&headers(&[("host", "pbx:8080")])),
        "no Origin: a same-origin GET"
    );
    assert!(same_origin(&headers(&[
        ("host", "pbx:8080"),
        ("origin", "http://pbx:8080")
    ])));
    assert!(same_origin(&headers(&[
        ("host", "PBX:8080"),
        ("origin", "https://pbx:8080")
    ])));
    assert!(!same_origin(&headers(&[
        ("host", "pbx:8080"),
        ("origin", "http://pbx:8081")
    ])));
    assert!(!same_origin(&headers(&[
        ("host", "pbx"),
        ("origin", "http://evil.example")
    ])));
    assert!(!same_origin(&headers(&[
        ("host", "pbx"),
        ("origin", "null")
    ])));
    assert!(
        !same_origin(&headers(&[("origin", "http://pbx")])),
        "no Host to compare with"
    );
}

#[test]
fn secrets_compare_whole() {
    assert!(same_secret("abc", "abc"));
    assert!(!same_secret("abc", "abd"));
    assert!(!same_secret("abc", "ab"));
    assert!(!same_secret("", "a"));
}
