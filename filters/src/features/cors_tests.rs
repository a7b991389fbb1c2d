use super::*;

fn headers(lines: &[(&str, &str)]) -> HeaderMap {
    let lines: Vec<(&str, &[u8])> = lines.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
    raw_headers(&lines)
}

fn raw_headers(lines: &[(&str, &[u8])]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (name, value) in lines {
        h.append(
            HeaderName::from_bytes(name.as_bytes()).expect("name"),
            HeaderValue::from_bytes(value).expect("value"),
        );
    }
    h
}

const OWN: &str = "https://shop.example";

fn allowed() -> Vec<String> {
    vec!["https://app.shop.example".into(), "http://localhost:3000".into()]
}

#[test]
fn a_preflight_is_what_a_browser_sends() {
    let options = http::Method::OPTIONS;
    let good = [
        ("origin", "https://app.shop.example"),
        ("access-control-request-method", "DELETE"),
    ];
    assert!(is_preflight(&options, &headers(&good)));
    assert!(!is_preflight(&http::Method::GET, &headers(&good)), "only OPTIONS");
    // What a browser never puts on a preflight makes it an ordinary OPTIONS (the
    // hostile review: credentials and a body reached the origin past the gates).
    for (name, value) in [
        ("cookie", "other=1"),
        ("authorization", "Bearer xyz"),
        ("content-length", "16"),
        ("transfer-encoding", "chunked"),
    ] {
        let with = headers(&[good[0], good[1], (name, value)]);
        assert!(!is_preflight(&options, &with), "{name}");
    }
    assert!(is_preflight(
        &options,
        &headers(&[good[0], good[1], ("content-length", "0")])
    ));
    for origin in [
        "null",
        "http://localhost:3000",
        "http://[::1]:8080",
        "https://xn--bcher-kva.example",
        "chrome-extension://abcdefghijklmnop",
        "https://a_b.example",
    ] {
        let h = headers(&[("origin", origin), ("access-control-request-method", "PUT")]);
        assert!(is_preflight(&options, &h), "{origin}");
    }
    let huge = format!("https://{}.example", "a".repeat(MAX_ORIGIN_LEN));
    let long_method = "X".repeat(MAX_METHOD_LEN + 1);
    let not = [
        vec![("access-control-request-method", "PUT")],
        vec![("origin", "https://app.shop.example")],
        vec![
            ("origin", "https://app.shop.example"),
            ("origin", "https://evil.example"),
            ("access-control-request-method", "PUT"),
        ],
        vec![
            ("origin", "https://app.shop.example"),
            ("access-control-request-method", "PUT"),
            ("access-control-request-method", "GET"),
        ],
        vec![("origin", huge.as_str()), ("access-control-request-method", "PUT")],
        vec![("origin", ""), ("access-control-request-method", "PUT")],
        vec![
            ("origin", "https://app.shop.example/"),
            ("access-control-request-method", "PUT"),
        ],
        vec![
            ("origin", "https://app.shop.example:"),
            ("access-control-request-method", "PUT"),
        ],
        vec![
            ("origin", "https://app.shop.example:123456"),
            ("access-control-request-method", "PUT"),
        ],
        vec![("origin", "https://a b"), ("access-control-request-method", "PUT")],
        vec![("origin", "https://a\tb"), ("access-control-request-method", "PUT")],
        vec![
            ("origin", "https://user@a.example"),
            ("access-control-request-method", "PUT"),
        ],
        vec![("origin", "https://[::1"), ("access-control-request-method", "PUT")],
        vec![("origin", "https://[::1]x"), ("access-control-request-method", "PUT")],
        vec![
            ("origin", "1http://a.example"),
            ("access-control-request-method", "PUT"),
        ],
        vec![("origin", "://a.example"), ("access-control-request-method", "PUT")],
        vec![("origin", "https://"), ("access-control-request-method", "PUT")],
        vec![("origin", "NULL"), ("access-control-request-method", "PUT")],
        vec![("origin", "null, null"), ("access-control-request-method", "PUT")],
        vec![("origin", "https://a.example"), ("access-control-request-method", "")],
        vec![
            ("origin", "https://a.example"),
            ("access-control-request-method", "GET POST"),
        ],
        vec![
            ("origin", "https://a.example"),
            ("access-control-request-method", "GET,POST"),
        ],
        vec![
            ("origin", "https://a.example"),
            ("access-control-request-method", long_method.as_str()),
        ],
    ];
    for lines in not {
        assert!(!is_preflight(&options, &headers(&lines)), "{lines:?}");
    }
    let opaque = raw_headers(&[("origin", b"https://\xffa"), ("access-control-request-method", b"PUT")]);
    assert!(!is_preflight(&options, &opaque));
}

#[test]
fn only_one_exactly_listed_origin_is_listed() {
    let allowed = allowed();
    let read = |lines: &[(&str, &[u8])]| request_origin(&raw_headers(lines), OWN, &allowed);
    assert_eq!(read(&[]), RequestOrigin::Absent);
    assert_eq!(read(&[("origin", OWN.as_bytes())]), RequestOrigin::Own);
    assert_eq!(
        read(&[("origin", &b"https://app.shop.example"[..])]),
        RequestOrigin::Foreign {
            listed: Some("https://app.shop.example")
        }
    );
    for value in [
        &b"https://evil.example"[..],
        b"null",
        b"*",
        b"",
        b"https://APP.shop.example",
        b"https://app.shop.example/",
        b"https://app.shop.example:443",
        b"https://app.shop.example.evil.example",
        b"https://evil-app.shop.example",
        b"http://app.shop.example",
        b"https://app.shop.example\xff",
        b"https://shop.example:443",
    ] {
        assert_eq!(
            read(&[("origin", value)]),
            RequestOrigin::Foreign { listed: None },
            "{:?}",
            String::from_utf8_lossy(value)
        );
    }
    // Two lines, even both listed or one the site's own: nobody's.
    for pair in [
        [&b"https://app.shop.example"[..], b"https://app.shop.example"],
        [b"https://app.shop.example", b"https://evil.example"],
        [OWN.as_bytes(), b"https://app.shop.example"],
    ] {
        let lines = [("origin", pair[0]), ("origin", pair[1])];
        assert_eq!(read(&lines), RequestOrigin::Foreign { listed: None });
    }
}

fn header<'a>(reply: &'a Reply, name: &str) -> Vec<&'a str> {
    reply
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

#[test]
fn answers_say_vary_to_every_foreign_origin_and_allow_only_a_listed_one() {
    let unauthorized = || {
        Reply::error(401, "login_required", "Sign in to use this.", true)
            .header("www-authenticate", "Bearer realm=\"s\"")
    };
    for origin in [RequestOrigin::Absent, RequestOrigin::Own] {
        assert_eq!(decorate(unauthorized(), origin), unauthorized(), "unchanged");
    }
    let foreign = decorate(unauthorized(), RequestOrigin::Foreign { listed: None });
    assert_eq!(header(&foreign, "vary"), ["Origin"]);
    for name in ["access-control-allow-origin", "access-control-allow-credentials"] {
        assert!(header(&foreign, name).is_empty(), "{name}");
    }
    let listed = decorate(
        unauthorized(),
        RequestOrigin::Foreign {
            listed: Some("https://app.shop.example"),
        },
    );
    assert_eq!(header(&listed, "vary"), ["Origin"]);
    assert_eq!(
        header(&listed, "access-control-allow-origin"),
        ["https://app.shop.example"]
    );
    assert_eq!(header(&listed, "access-control-allow-credentials"), ["true"]);
    assert_eq!(header(&listed, "access-control-expose-headers"), ["www-authenticate"]);
    assert_eq!(listed.status, 401);
    assert_eq!(listed.body, unauthorized().body);
    // Nothing to expose: no expose line.
    let plain = decorate(
        Reply::json(200, &serde_json::json!({})),
        RequestOrigin::Foreign {
            listed: Some("https://app.shop.example"),
        },
    );
    assert!(header(&plain, "access-control-expose-headers").is_empty());
}
