//! Every `toml` block of the IdP guides (`docs/idps/*.md`) is a `[sites.oidc]` block
//! (with the routes that use its claims) that `sso-gateway check` accepts inside a
//! minimal configuration; the guides and their index list each other.

use sso_tests::repo_root;

/// The fenced ```toml blocks of `markdown`.
fn toml_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_start()) {
            (None, "```toml") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

/// A whole configuration around one guide's block: a site behind a TLS-terminating
/// balancer, as the guides' `https://shop.example.com` URLs assume.
fn wrapped(block: &str) -> String {
    format!(
        "[server]\nlisten = [\"127.0.0.1:8080\"]\nadmin_listen = \"127.0.0.1:9100\"\ntrusted_proxies = [\"10.0.0.0/8\"]\n\n\
         [sessions]\ncookie_secret = \"${{SSO_COOKIE_SECRET}}\"\n\n\
         [[sites]]\nname = \"shop\"\nhosts = [\"shop.example.com\"]\nupstreams = [\"10.0.1.10:3000\"]\n\
         public_url = \"https://shop.example.com\"\n\n{block}"
    )
}

/// The `${NAME}`s of `text`.
fn env_names(text: &str) -> Vec<String> {
    text.split("${")
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_string()))
        .collect()
}

const GUIDES: [&str; 6] = [
    "keycloak.md",
    "auth0.md",
    "entra-id.md",
    "google.md",
    "okta.md",
    "azure-ad-b2c.md",
];

#[test]
fn every_guide_block_passes_check() {
    let dir = repo_root().join("docs/idps");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .expect("docs/idps")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".md") && n != "README.md")
        .collect();
    on_disk.sort();
    let mut expected: Vec<String> = GUIDES.iter().map(|g| g.to_string()).collect();
    expected.sort();
    assert_eq!(
        on_disk, expected,
        "a guide was added or removed: update GUIDES and the index"
    );

    let index = std::fs::read_to_string(dir.join("README.md")).expect("index");
    for guide in GUIDES {
        assert!(
            index.contains(&format!("]({guide})")),
            "docs/idps/README.md links {guide}"
        );
        let text = std::fs::read_to_string(dir.join(guide)).expect("guide");
        let blocks = toml_blocks(&text);
        assert!(
            blocks.iter().any(|b| b.trim_start().starts_with("[sites.oidc]")),
            "{guide} has a [sites.oidc] block"
        );
        for block in blocks {
            let config = wrapped(&block);
            let envs: Vec<(String, String)> = env_names(&config)
                .into_iter()
                .map(|name| (name, "0123456789abcdef0123456789abcdef".to_string()))
                .collect();
            let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let (ok, out) = sso_tests::gateway::check(&config, &envs).expect("check runs");
            assert!(ok, "docs/idps/{guide}: check refused\n{block}\n---\n{out}");
        }
    }
}

#[test]
fn a_broken_block_is_refused_so_the_test_above_can_fail() {
    let block = "[sites.oidc]\nissuer = \"https://login.microsoftonline.com/common/v2.0\"\nclient_id = \"x\"\n\
                 client_secret = \"a-client-secret-value\"\n";
    let (ok, out) = sso_tests::gateway::check(
        &wrapped(block),
        &[("SSO_COOKIE_SECRET", "0123456789abcdef0123456789abcdef")],
    )
    .expect("check runs");
    assert!(!ok, "{out}");
    assert!(out.contains("sites[0].oidc.issuer"), "{out}");
}

#[test]
fn the_docs_link_the_guides_and_the_origin_guide() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README");
    let security = std::fs::read_to_string(repo_root().join("docs/security.md")).expect("security");
    for text in [&readme, &security] {
        assert!(text.contains("idps/README.md"), "links the IdP guides");
        assert!(text.contains("origin.md"), "links the origin guide");
    }
}
