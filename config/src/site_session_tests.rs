use crate::parse;
use std::time::Duration;

/// A configuration with `[sessions]` extra keys and two sites, the first with
/// `[sites.session]` keys `own`.
fn config(sessions: &str, own: &str) -> Result<crate::Config, String> {
    let text = format!(
        r#"
[sessions]
cookie_secret = "0123456789abcdef0123456789abcdef"
{sessions}
[[sites]]
name = "kiosk"
hosts = ["kiosk.example"]
upstreams = ["127.0.0.1:1"]
public_url = "http://kiosk.example"
[sites.session]
{own}
[[sites]]
name = "shop"
hosts = ["shop.example"]
upstreams = ["127.0.0.1:1"]
public_url = "http://shop.example"
"#
    );
    parse(&text, &|_| None).map_err(|e| e.to_string())
}

#[test]
fn a_site_overrides_each_timeout_and_the_others_keep_the_global_ones() {
    let c = config(
        "idle_timeout = \"20m\"\nabsolute_timeout = \"8h\"",
        "idle_timeout = \"5m\"\nabsolute_timeout = \"1h\"",
    )
    .expect("valid");
    let (kiosk, shop) = (&c.sites[0].session, &c.sites[1].session);
    assert_eq!(kiosk.idle_timeout(&c.sessions), Duration::from_secs(300));
    assert_eq!(kiosk.absolute_timeout(&c.sessions), Duration::from_secs(3600));
    assert_eq!(shop.idle_timeout(&c.sessions), Duration::from_secs(1200));
    assert_eq!(shop.absolute_timeout(&c.sessions), Duration::from_secs(8 * 3600));
    // Either key alone; an empty table changes nothing.
    let c = config("", "idle_timeout = \"90s\"").expect("valid");
    assert_eq!(c.sites[0].session.idle_timeout(&c.sessions), Duration::from_secs(90));
    assert_eq!(
        c.sites[0].session.absolute_timeout(&c.sessions),
        c.sessions.absolute_timeout
    );
    let c = config("", "").expect("valid");
    assert_eq!(c.sites[0].session, c.sites[1].session);
}

#[test]
fn the_timeouts_are_checked_like_the_global_keys_on_what_the_site_ends_up_with() {
    for (sessions, own, key, says) in [
        (
            "",
            "idle_timeout = \"0s\"",
            "sites[0].session.idle_timeout",
            "longer than zero",
        ),
        (
            "",
            "absolute_timeout = \"soon\"",
            "sites[0].session.absolute_timeout",
            "not a duration",
        ),
        (
            "",
            "idle_timeout = \"2h\"\nabsolute_timeout = \"1h\"",
            "sites[0].session.idle_timeout",
            "absolute_timeout",
        ),
        // The global absolute timeout (12h by default) is the site's when it sets none.
        (
            "",
            "idle_timeout = \"13h\"",
            "sites[0].session.idle_timeout",
            "sessions.absolute_timeout (12h)",
        ),
        // The global idle timeout is the site's when it sets none.
        (
            "idle_timeout = \"2h\"",
            "absolute_timeout = \"1h\"",
            "sites[0].session.absolute_timeout",
            "sessions.idle_timeout (2h)",
        ),
        ("", "idle = \"5m\"", "sites[0].session.idle", "unknown key"),
    ] {
        match config(sessions, own) {
            Ok(_) => panic!("{own:?} accepted"),
            Err(errors) => assert!(errors.contains(key) && errors.contains(says), "{own:?}: {errors}"),
        }
    }
    // A site may lengthen either timeout past the global one, or shorten both.
    config("", "idle_timeout = \"1h\"\nabsolute_timeout = \"7d\"").expect("longer than the global keys");
    config("", "idle_timeout = \"1s\"\nabsolute_timeout = \"1s\"").expect("idle = absolute");
}

/// With Redis, `l1_ttl` is not bound to any idle timeout: a replica never trusts its
/// L1 copy of a session past the session's next write-back point, so even a site whose
/// idle timeout is shorter than `l1_ttl` is served honestly by every replica.
#[test]
fn with_redis_no_idle_timeout_is_too_short_for_l1_ttl() {
    let redis = "store = \"redis\"\nredis_url = \"redis://h:6379\"\nl1_ttl = \"10s\"";
    let c = config(redis, "idle_timeout = \"4s\"").expect("a site idle timeout below l1_ttl");
    assert_eq!(c.sites[0].session.idle_timeout(&c.sessions), Duration::from_secs(4));
    config(&format!("{redis}\nidle_timeout = \"8s\""), "").expect("a global one too");
}
