//! One path written two ways: letter case, `;parameters`, a trailing `/`. A gateway
//! path written another way is neither read nor passed on (an origin that folds case
//! or drops parameters would be handed what the gateway did not check), and paths
//! that carry a sign-in token are never logged as they came.

/// True when `a` and `b` are one path written two ways: letter case, `;parameters`,
/// a trailing `/`.
/// Compares segment by segment without allocating: it runs on every request of a
/// site with an IdP.
pub fn same_path_folded(a: &str, b: &str) -> bool {
    let (mut x, mut y) = (folded_segments(a), folded_segments(b));
    loop {
        match (x.next(), y.next()) {
            (None, None) => return true,
            (Some(p), Some(q)) if p.eq_ignore_ascii_case(q) => {}
            _ => return false,
        }
    }
}

/// The segments of `path` without a trailing `/`, each without its `;parameters`.
fn folded_segments(path: &str) -> impl Iterator<Item = &str> {
    path.trim_end_matches('/').split('/').map(without_parameters)
}

/// A path segment without its `;parameters`.
fn without_parameters(segment: &str) -> &str {
    segment.split(';').next().unwrap_or("")
}

/// True when `path`, read segment by segment in any case and without `;parameters`,
/// starts with the token path `prefix` (which ends with `/`: a token follows).
/// Allocates nothing: it runs on every request of a site with a token path.
pub fn starts_with_folded(path: &str, prefix: &str) -> bool {
    // Runs on every request's access line: most paths differ in the first segment.
    let want_first = first_segment(prefix);
    if !want_first.is_empty() && !want_first.eq_ignore_ascii_case(first_segment(path)) {
        return false;
    }
    let mut segments = path.split('/').map(without_parameters);
    let whole = prefix.trim_end_matches('/').split('/');
    for want in whole {
        match segments.next() {
            Some(got) if got.eq_ignore_ascii_case(want) => {}
            _ => return false,
        }
    }
    segments.next().is_some_and(|token| !token.is_empty())
}

/// The first segment of a path as the folded comparisons read it: the segment after
/// the leading `/`, without its `;parameters` (`;x/a` reads as `/a`). A path another
/// matches segment by segment in any case has the same one, in any case.
pub fn first_segment(path: &str) -> &str {
    let mut segments = path.split('/').map(without_parameters);
    match segments.next() {
        Some("") => segments.next().unwrap_or(""),
        head => head.unwrap_or(""),
    }
}

/// A path lower-cased with every segment's `;parameters` dropped.
#[cfg(test)]
fn fold_path(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').map(|s| s.split(';').next().unwrap_or("")).collect();
    segments.join("/").to_ascii_lowercase()
}

/// `path` as logged: every segment holding something shaped like a JWT (`eyJ…` — the
/// base64 of `{"` — followed by a `.`) is replaced by `[redacted]`, on every site and on unknown hosts alike:
/// customer-login and platform-login links sign a customer in, whatever host or
/// letter case they arrived with.
pub fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    let jwt_like = |s: &str| s.find("eyJ").is_some_and(|i| s[i..].contains('.'));
    // No segment holds `eyJ` when the path does not: the common case, in one scan.
    if !path.contains("eyJ") || !path.split('/').any(jwt_like) {
        return path.into();
    }
    let redacted: Vec<&str> = path
        .split('/')
        .map(|s| if jwt_like(s) { "[redacted]" } else { s })
        .collect();
    redacted.join("/").into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwt_shaped_segments_never_reach_a_log_line() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln";
        assert_eq!(loggable_path(&format!("/login/token/{jwt}")), "/login/token/[redacted]");
        assert_eq!(
            loggable_path(&format!("/LOGIN/Token;x=1/{jwt}")),
            "/LOGIN/Token;x=1/[redacted]"
        );
        assert_eq!(loggable_path(&format!("/a/x;p={jwt}/b")), "/a/[redacted]/b");
        assert_eq!(loggable_path("/catalog/shoes.html"), "/catalog/shoes.html");
        assert_eq!(loggable_path("/eyJust-a-word"), "/eyJust-a-word");
    }

    #[test]
    fn token_path_variants_are_recognised_without_allocating() {
        assert!(starts_with_folded("/LOGIN;x=1/Token/eyJ", "/login/token/"));
        assert!(starts_with_folded("/login/token/abc", "/login/token/"));
        assert!(!starts_with_folded("/login/token/", "/login/token/"), "no token");
        assert!(!starts_with_folded("/login/tokens/x", "/login/token/"));
        assert!(!starts_with_folded("/login", "/login/token/"));
        assert!(starts_with_folded("/abc", "/"), "a root prefix: any first segment");
        assert!(!starts_with_folded("/public/login/token/x", "/login/token/"));
        assert_eq!(first_segment("/Login;v=1/token"), "Login");
        assert!(same_path_folded(
            "/login/sso/callback/ACME/",
            "/login/sso/callback/acme"
        ));
        assert!(same_path_folded(
            "/login/sso/callback/acme;x",
            "/login/sso/callback/acme"
        ));
        assert!(!same_path_folded(
            "/login/sso/callback/acme/x",
            "/login/sso/callback/acme"
        ));
        assert!(!same_path_folded("/login/sso/callback", "/login/sso/callback/acme"));
    }

    #[test]
    fn case_and_parameter_variants_of_a_path_fold_together() {
        assert_eq!(fold_path("/Login;x=1/TOKEN/abc"), "/login/token/abc");
        assert!(fold_path("/LOGIN/token/x").starts_with(&fold_path("/login/token/")));
        assert!(!fold_path("/login/tokens/x").starts_with(&fold_path("/login/token/")));
    }
}
