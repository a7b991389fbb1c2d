use super::*;

const STRICT: PathPolicy = PathPolicy {
    case_insensitive: true,
    allow_encoded_slashes: false,
};
const CASE_SENSITIVE: PathPolicy = PathPolicy {
    case_insensitive: false,
    allow_encoded_slashes: false,
};
const SLASHES_ALLOWED: PathPolicy = PathPolicy {
    case_insensitive: true,
    allow_encoded_slashes: true,
};

fn canon(raw: &str, policy: PathPolicy) -> Result<(String, String, Option<String>), TargetError> {
    let form = TargetForm::classify(raw.as_bytes(), false)?;
    let p = RequestPath::canonical(&form, policy)?;
    Ok((
        p.path.to_string(),
        p.route_key().to_string(),
        p.query.map(str::to_string),
    ))
}

#[test]
fn canonical_paths_and_route_keys() {
    for (raw, path, key) in [
        ("/", "/", "/"),
        ("/api/orders", "/api/orders", "/api/orders"),
        ("/%61pi/orders", "/api/orders", "/api/orders"),
        ("//api/orders", "/api/orders", "/api/orders"),
        ("//account", "/account", "/account"),
        ("/x/../api/orders", "/api/orders", "/api/orders"),
        ("/./api/orders", "/api/orders", "/api/orders"),
        ("/%2e/api/orders", "/api/orders", "/api/orders"),
        ("/x/%2E%2E/api/orders", "/api/orders", "/api/orders"),
        ("/x/.%2e/api", "/api", "/api"),
        ("/../../api", "/api", "/api"),
        ("/api/orders/..", "/api/", "/api/"),
        ("/api/.", "/api/", "/api/"),
        ("/api//", "/api/", "/api/"),
        ("/API/orders", "/API/orders", "/api/orders"),
        ("/api;x/orders", "/api;x/orders", "/api/orders"),
        ("/api;jsessionid=1", "/api;jsessionid=1", "/api"),
        ("/api%3bx/orders", "/api%3Bx/orders", "/api/orders"),
        ("/caf%c3%a9", "/caf%C3%A9", "/café"),
        ("/api%3F", "/api%3F", "/api"),
        ("/account%3F/orders", "/account%3F/orders", "/account"),
        ("/api%23x", "/api%23x", "/api"),
        ("/a%20b", "/a%20b", "/a b"),
        ("/~user/%7Efile", "/~user/~file", "/~user/~file"),
    ] {
        let got = canon(raw, STRICT).unwrap_or_else(|e| panic!("{raw}: {e}"));
        assert_eq!((got.0.as_str(), got.1.as_str()), (path, key), "{raw}");
    }
}

#[test]
fn hex_case_is_normalised_but_not_the_letters_around_it() {
    // `%20B`: the escape is %20, then a literal B — the letter must not be touched.
    assert_eq!(canon("/a%20b", STRICT).map(|c| c.0), Ok("/a%20b".into()));
    assert_eq!(canon("/a%2a", STRICT).map(|c| c.0), Ok("/a%2A".into()));
}

#[test]
fn case_sensitive_sites_match_as_written() {
    assert_eq!(
        canon("/API/orders", CASE_SENSITIVE).map(|c| c.1),
        Ok("/API/orders".into())
    );
}

#[test]
fn ambiguous_targets_are_refused() {
    for (raw, err) in [
        ("/api%2forders", TargetError::EncodedSlash),
        ("/api%2Forders", TargetError::EncodedSlash),
        ("/api%5corders", TargetError::EncodedSlash),
        ("/api\\orders", TargetError::EncodedSlash),
        ("/a%00b", TargetError::BadCharacter),
        ("/a%0ab", TargetError::BadCharacter),
        ("/a%7fb", TargetError::BadCharacter),
        ("/a\u{7f}b", TargetError::BadCharacter),
        ("/a b", TargetError::BadCharacter),
        ("/caf\u{e9}", TargetError::BadCharacter),
        ("/a%zz", TargetError::BadEscape),
        ("/a%4", TargetError::BadEscape),
        ("/a%", TargetError::BadEscape),
        ("/a#frag", TargetError::Fragment),
        ("/..;/api", TargetError::AmbiguousDotSegment),
        ("/public/..;x/api", TargetError::AmbiguousDotSegment),
        ("/.;/api", TargetError::AmbiguousDotSegment),
        ("/api/..%3B/orders", TargetError::AmbiguousDotSegment),
        ("/api/..%3bjsessionid=1/x", TargetError::AmbiguousDotSegment),
        ("/account/.%2e%3bx/profile", TargetError::AmbiguousDotSegment),
        ("/api/%2e%3B", TargetError::AmbiguousDotSegment),
        ("x:/api/orders", TargetError::NotAPath),
        ("api/orders", TargetError::NotAPath),
        ("", TargetError::NotAPath),
        ("*", TargetError::NotAPath),
        ("http://user@shop/api", TargetError::AuthorityMismatch),
        ("http:///api", TargetError::AuthorityMismatch),
    ] {
        assert_eq!(canon(raw, STRICT).map(|c| c.0), Err(err), "{raw:?}");
    }
}

#[test]
fn sites_may_allow_encoded_slashes_and_then_route_on_them() {
    let (path, key, _) = canon("/api%2forders", SLASHES_ALLOWED).expect("allowed");
    assert_eq!((path.as_str(), key.as_str()), ("/api%2Forders", "/api/orders"));
    // A dot-segment that only exists once `%2F` or `\\` is read as `/` is refused.
    assert_eq!(
        canon("/public%2F..%2Fapi", SLASHES_ALLOWED).map(|c| c.0),
        Err(TargetError::AmbiguousDotSegment)
    );
    assert_eq!(
        canon("/public\\..\\api", SLASHES_ALLOWED).map(|c| c.0),
        Err(TargetError::AmbiguousDotSegment)
    );
    assert_eq!(
        canon("/api/x%2F..%2F..%2F", SLASHES_ALLOWED).map(|c| c.0),
        Err(TargetError::AmbiguousDotSegment)
    );
    // Control characters stay refused whatever the site allows.
    assert_eq!(
        canon("/a%00", SLASHES_ALLOWED).map(|c| c.0),
        Err(TargetError::BadCharacter)
    );
}

#[test]
fn target_forms() {
    assert_eq!(TargetForm::classify(b"*", true), Ok(TargetForm::Asterisk));
    let star = RequestPath::canonical(&TargetForm::Asterisk, STRICT).expect("asterisk");
    assert_eq!((star.route_key(), star.rewritten), ("/", false));
    assert_eq!(
        TargetForm::classify(b"HTTP://Shop.Localhost:8080/api?x=1", false),
        Ok(TargetForm::Absolute {
            authority: "Shop.Localhost:8080",
            rest: "/api?x=1"
        })
    );
    let form = TargetForm::classify(b"http://shop.localhost", false).expect("absolute");
    let p = RequestPath::canonical(&form, STRICT).expect("canonical");
    assert_eq!((p.path.as_ref(), p.rewritten), ("/", true));
    let form = TargetForm::classify(b"https://shop.localhost?q=1", false).expect("absolute");
    assert_eq!(
        RequestPath::canonical(&form, STRICT).map(|p| p.path.to_string()),
        Ok("/".into())
    );
}

#[test]
fn queries_are_kept_and_untouched_paths_are_not_rewritten() {
    let form = TargetForm::classify(b"/account/orders?page=2&x=%2f", false).expect("origin");
    let p = RequestPath::canonical(&form, STRICT).expect("canonical");
    assert!(!p.rewritten);
    assert!(matches!(p.path, Cow::Borrowed(_)));
    assert_eq!(p.query, Some("page=2&x=%2f"));
    assert_eq!(p.target(), "/account/orders?page=2&x=%2f");
    let form = TargetForm::classify(b"//account?x", false).expect("origin");
    let p = RequestPath::canonical(&form, STRICT).expect("canonical");
    assert!(p.rewritten);
    assert_eq!(p.target(), "/account?x");
}

#[test]
fn canonical_paths_are_fixed_points() {
    for raw in [
        "/a/b/../c/./d//e/",
        "/%61%62%2e%2E/x",
        "/x;y/%3b/..",
        "/a%2a%7e/",
        "/..",
        "/./",
    ] {
        let (once, key, _) = canon(raw, STRICT).expect("canonical");
        let (twice, key2, _) = canon(&once, STRICT).expect("canonical again");
        assert_eq!(once, twice, "{raw}");
        assert_eq!(key, key2, "{raw}");
    }
}
