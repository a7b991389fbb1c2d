//! The key ring keys: `sessions.previous_cookie_secrets` and
//! `sites.token.previous_signing_key_files`.
use crate::parse;

const CURRENT: &str = "0123456789abcdef0123456789abcdef";

fn config(sessions: &str, token: &str) -> Result<crate::Config, crate::errors::ConfigErrors> {
    let text = format!(
        "[sessions]\ncookie_secret = \"{CURRENT}\"\n{sessions}\n[[sites]]\nname = \"shop\"\nhosts = [\"shop.localhost\"]\n\
         upstreams = [\"127.0.0.1:1\"]\npublic_url = \"http://shop.localhost\"\n[sites.token]\n{token}\n"
    );
    let env = |name: &str| (name == "OLD_SECRET").then(|| "old-secret-from-env-0123456789abcdef".to_string());
    parse(&text, &env)
}

#[test]
fn previous_cookie_secrets_expand_like_the_current_one() {
    let cfg = config("previous_cookie_secrets = [\"${OLD_SECRET}\"]", "").expect("valid");
    let previous: Vec<&str> = cfg
        .sessions
        .previous_cookie_secrets
        .iter()
        .map(|s| s.expose())
        .collect();
    assert_eq!(previous, ["old-secret-from-env-0123456789abcdef"]);
    assert!(config("", "")
        .expect("valid")
        .sessions
        .previous_cookie_secrets
        .is_empty());
}

#[test]
fn previous_cookie_secrets_are_checked_entry_by_entry() {
    let cases = [
        ("[\"short\"]", "sessions.previous_cookie_secrets[0]", "at least 32"),
        (
            "[\"0123456789abcdef0123456789abcdef\"]",
            "sessions.previous_cookie_secrets[0]",
            "current",
        ),
        (
            "[\"${OLD_SECRET}\", \"old-secret-from-env-0123456789abcdef\"]",
            "sessions.previous_cookie_secrets[1]",
            "twice",
        ),
        (
            "[\"${UNSET_SECRET}\"]",
            "sessions.previous_cookie_secrets[0]",
            "UNSET_SECRET",
        ),
    ];
    for (list, path, says) in cases {
        let errors = config(&format!("previous_cookie_secrets = {list}"), "").expect_err(list);
        let report = errors.to_string();
        assert!(errors.mentions(path), "{list}: {report}");
        assert!(report.contains(says), "{list}: {report}");
        assert!(
            !report.contains("0123456789abcdef0123456789abcdef\""),
            "no secret echoed: {report}"
        );
    }
}

#[test]
fn previous_signing_key_files_need_a_current_file_and_differ() {
    let cfg = config(
        "",
        "signing_key_file = \"/keys/new.pem\"\nprevious_signing_key_files = [\"/keys/old.pem\"]",
    )
    .expect("valid");
    assert_eq!(
        cfg.sites[0].token.previous_signing_key_files,
        [std::path::PathBuf::from("/keys/old.pem")]
    );
    let generated = config("", "previous_signing_key_files = [\"/keys/old.pem\"]").expect_err("no current file");
    assert!(
        generated.mentions("sites[0].token.previous_signing_key_files[0]"),
        "{generated}"
    );
    let same = config(
        "",
        "signing_key_file = \"/keys/new.pem\"\nprevious_signing_key_files = [\"/keys/new.pem\"]",
    )
    .expect_err("the current key again");
    assert!(same.mentions("sites[0].token.previous_signing_key_files[0]"), "{same}");
}
