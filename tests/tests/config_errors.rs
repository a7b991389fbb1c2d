//! Configuration errors an operator can act on (issue 23 §5), read as `sso-gateway
//! check` prints them: the key and the expected form of a value of the wrong type,
//! the closest key for a typo, a syntax error's line, column and line as written
//! with every other problem still found, and the generated-key warning `run` logs.

use sso_tests::gateway::check;
use sso_tests::{free_port, GatewayConfig, Storefront, COOKIE_SECRET};

/// A complete configuration with `server` and `sessions` keys added.
fn config(server: &str, sessions: &str) -> String {
    format!(
        "[server]\nlisten = [\"127.0.0.1:8080\"]\n{server}\n\n[sessions]\ncookie_secret = \"{COOKIE_SECRET}\"\n{sessions}\n\n\
         [[sites]]\nname = \"shop\"\nhosts = [\"shop.localhost\"]\nupstreams = [\"127.0.0.1:3000\"]\n\
         public_url = \"http://shop.localhost:8080\"\n"
    )
}

fn refused(text: &str) -> String {
    let (ok, out) = check(text, &[]).expect("check runs");
    assert!(!ok, "accepted:\n{text}\n{out}");
    out
}

#[test]
fn a_value_of_the_wrong_type_names_its_key_and_the_form_expected() {
    let out = refused(&config("", "idle_timeout = 30"));
    assert!(
        out.contains(
            "  sessions.idle_timeout: expected a duration string such as \"30m\", found the number 30 (line 7)"
        ),
        "{out}"
    );
    assert!(!out.contains("invalid type"), "serde's words are not shown: {out}");

    let out = refused(&config("", "").replace("listen = [\"127.0.0.1:8080\"]", "listen = \"127.0.0.1:8080\""));
    assert!(
        out.contains("  server.listen: expected a list, in brackets even for one value: listen = [\"…\"], found a string (line 2)"),
        "{out}"
    );
    let out = refused(&config("threads = \"4\"\nh2c = \"yes\"", ""));
    assert!(
        out.contains("server.threads: expected a whole number, without quotes, found a string"),
        "{out}"
    );
    assert!(
        out.contains("server.h2c: expected true or false, without quotes, found a string"),
        "{out}"
    );
    // A string value is never echoed: it may be a secret.
    let out = refused(&config(
        "",
        "previous_cookie_secrets = \"old-secret-0123456789abcdef0123\"",
    ));
    assert!(
        out.contains("sessions.previous_cookie_secrets: expected a list"),
        "{out}"
    );
    assert!(!out.contains("old-secret"), "{out}");
    // `[sites]` for `[[sites]]`.
    let single = config("", "").replace("[[sites]]", "[sites]");
    let out = refused(&single);
    assert!(
        out.contains(
            "sites: expected a list (a list of tables is written with a [[sites]] header per entry), found a table"
        ),
        "{out}"
    );
}

#[test]
fn a_typo_suggests_the_closest_key_of_its_table() {
    let out = refused(&config("", "idle_timout = \"30m\""));
    assert!(
        out.contains("sessions.idle_timout: unknown key, did you mean `idle_timeout`? (line 7)"),
        "{out}"
    );
    let out = refused(&config("", "").replace("upstreams", "upstream"));
    assert!(
        out.contains("sites[0].upstream: unknown key, did you mean `upstreams`?"),
        "{out}"
    );
    // Nothing close: the table's keys are listed.
    let out = refused(&config("colour = \"red\"", ""));
    assert!(
        out.contains("server.colour: unknown key; the keys here are `listen`, `admin_listen`"),
        "{out}"
    );
}

#[test]
fn every_problem_is_reported_at_once_each_with_its_key() {
    let text = config("threads = \"4\"", "idle_timout = \"30m\"").replace("http://shop.localhost:8080", "not a url");
    let out = refused(&text);
    assert!(out.contains(": 3 problem(s):"), "{out}");
    assert!(out.contains("server.threads: expected a whole number"), "{out}");
    assert!(out.contains("sessions.idle_timout: unknown key"), "{out}");
    assert!(
        out.contains("sites[0].public_url:"),
        "validation still runs on the rest: {out}"
    );
}

#[test]
fn a_syntax_error_shows_its_line_and_column_and_the_rest_is_still_checked() {
    let text =
        config("", "idle_timeout = \"30m\nabsolute_timeout = 12").replace("http://shop.localhost:8080", "not a url");
    let out = refused(&text);
    assert!(
        out.contains("  line 7, column 20: invalid basic string, expected `\"`"),
        "{out}"
    );
    assert!(
        out.contains("      7 | idle_timeout = \"30m\n        |                    ^"),
        "the line and a caret: {out}"
    );
    assert!(
        out.contains(
            "sessions.absolute_timeout: expected a duration string such as \"30m\", found the number 12 (line 8)"
        ),
        "{out}"
    );
    assert!(out.contains("sites[0].public_url:"), "{out}");
    // The line of a secret is not shown.
    let out = refused(&config("", "").replace(&format!("\"{COOKIE_SECRET}\""), &format!("\"{COOKIE_SECRET}")));
    assert!(out.contains("line 6, column"), "{out}");
    assert!(!out.contains(COOKIE_SECRET), "{out}");
}

#[test]
fn check_warns_about_a_generated_signing_key_as_run_does() {
    let (ok, out) = check(&config("", ""), &[]).expect("check runs");
    assert!(ok, "{out}");
    assert!(
        out.contains(
            "warning: sites[0] (shop): no token.signing_key_file: generated a signing key for X-Customer-Token; \
             replicas must share a configured key"
        ),
        "{out}"
    );
    let key = rcgen::KeyPair::generate().expect("P-256 key");
    let key_file = std::env::temp_dir().join(format!("sso-gw-check-key-{}.pem", free_port()));
    std::fs::write(&key_file, key.serialize_pem()).expect("write key");
    let with_key = format!(
        "{}[sites.token]\nsigning_key_file = {:?}\n",
        config("", ""),
        key_file.display().to_string()
    );
    let (ok, out) = check(&with_key, &[]).expect("check runs");
    let _ = std::fs::remove_file(&key_file);
    assert!(ok && !out.contains("warning"), "{out}");
}

#[tokio::test]
async fn run_warns_about_a_generated_signing_key_once() {
    let origin = Storefront::start().expect("origin");
    let gw = GatewayConfig::default()
        .plain_site("shop", &[origin.addr()])
        .plain_site("outlet", &[origin.addr()])
        .start()
        .expect("gateway");
    assert!(gw.log_shows("sso-gateway starting").await, "{}", gw.log());
    let log = gw.log();
    for site in ["shop", "outlet"] {
        let warnings = log
            .lines()
            .filter(|l| l.contains("no token.signing_key_file") && l.contains(&format!("site={site}")))
            .count();
        assert_eq!(warnings, 1, "{site}:\n{log}");
    }
}
