//! Replays the committed fuzz corpora (`fuzz/corpus/<target>/`) and crash reproducers
//! (`fuzz/regressions/<target>/`) through `sso_filters::fuzzing`, the same functions
//! the `cargo fuzz` targets call, so every seed and every fixed crash stays a test
//! without nightly or libFuzzer.

#![cfg(feature = "fuzzing")]

use sso_filters::fuzzing;
use std::path::{Path, PathBuf};

/// A fuzzing entry point of `sso_filters::fuzzing`.
type Target = fn(&[u8]);

/// Every fuzz target, by the name of its corpus directory.
const TARGETS: &[(&str, Target)] = &[
    ("return_to", fuzzing::return_to),
    ("cookie", fuzzing::cookie),
    ("config", fuzzing::config),
    ("token", fuzzing::token),
    ("request_path", fuzzing::request_path),
    ("navigation", fuzzing::navigation),
    ("stored", fuzzing::stored),
    ("customer_login", fuzzing::customer_login),
    ("hook_answer", fuzzing::hook_answer),
    ("ecwid_profile", fuzzing::ecwid_profile),
    ("idp_choice", fuzzing::idp_choice),
    ("one_time_token", fuzzing::one_time_token),
    ("logout_token", fuzzing::logout_token),
    ("request_id", fuzzing::request_id),
    ("cors", fuzzing::cors),
    ("idp_claims", fuzzing::idp_claims),
    ("forwarded_url", fuzzing::forwarded_url),
    ("par_answer", fuzzing::par_answer),
    ("accept_language", fuzzing::accept_language),
    ("way_back", fuzzing::way_back),
    ("discovered_issuer", fuzzing::discovered_issuer),
    ("id_token_signature", fuzzing::id_token_signature),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// The files directly in `dir`, sorted; `None` when `dir` does not exist.
fn files_in(dir: &Path) -> Option<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).ok()?;
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap_or_else(|e| panic!("reading {}: {e}", dir.display())).path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    Some(files)
}

/// The subdirectory names of `dir` (none when it does not exist).
fn subdirs(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Runs `target` over every file, and fails naming each file that panicked.
fn replay(name: &str) {
    let Some(&(_, target)) = TARGETS.iter().find(|(n, _)| *n == name) else {
        panic!("no fuzz target {name}")
    };
    let dir = fuzz_dir();
    let corpus = files_in(&dir.join("corpus").join(name))
        .unwrap_or_else(|| panic!("fuzz/corpus/{name}/ is missing: commit a seed corpus"));
    assert!(!corpus.is_empty(), "fuzz/corpus/{name}/ is empty: commit seeds");
    let regressions = files_in(&dir.join("regressions").join(name)).unwrap_or_default();
    let mut failed = Vec::new();
    for file in corpus.iter().chain(&regressions) {
        let bytes = std::fs::read(file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
        if std::panic::catch_unwind(|| target(&bytes)).is_err() {
            failed.push(file.display().to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "fuzz target {name} panicked on (reproduce with `cargo +nightly fuzz run {name} <file>` in fuzz/):\n{}",
        failed.join("\n")
    );
}

#[test]
fn every_corpus_directory_has_a_target_and_every_target_a_corpus() {
    let dir = fuzz_dir();
    let mut known: Vec<&str> = TARGETS.iter().map(|(n, _)| *n).collect();
    known.sort_unstable();
    assert_eq!(subdirs(&dir.join("corpus")), known, "fuzz/corpus/ and TARGETS differ");
    for name in subdirs(&dir.join("regressions")) {
        assert!(known.contains(&name.as_str()), "fuzz/regressions/{name}/ has no target");
    }
}

#[test]
fn return_to_corpus() {
    replay("return_to");
}

#[test]
fn cookie_corpus() {
    replay("cookie");
}

#[test]
fn config_corpus() {
    replay("config");
}

#[test]
fn token_corpus() {
    replay("token");
}

#[test]
fn request_path_corpus() {
    replay("request_path");
}

#[test]
fn request_id_corpus() {
    replay("request_id");
}

#[test]
fn navigation_corpus() {
    replay("navigation");
}

#[test]
fn cors_corpus() {
    replay("cors");
}

#[test]
fn stored_corpus() {
    replay("stored");
}

/// The encrypted records of `stored`'s seeds (made afresh: each has its own nonce)
/// open, under the current and a previous key and in the earlier layout.
#[test]
fn stored_seeds_open() {
    let seeds = fuzzing::stored_seeds();
    let sealed: Vec<&Vec<u8>> = seeds.iter().filter(|s| s.first() == Some(&b's')).collect();
    assert_eq!(sealed.len(), 3, "earlier layout, current key, previous key");
    for seed in sealed {
        assert!(fuzzing::sealed_record(&seed[1..]), "a seed does not open");
    }
    for seed in &seeds {
        fuzzing::stored(seed);
    }
}

#[test]
fn customer_login_corpus() {
    replay("customer_login");
}

#[test]
fn hook_answer_corpus() {
    replay("hook_answer");
}

#[test]
fn idp_choice_corpus() {
    replay("idp_choice");
}

#[test]
fn one_time_token_corpus() {
    replay("one_time_token");
}

#[test]
fn logout_token_corpus() {
    replay("logout_token");
}

#[test]
fn forwarded_url_corpus() {
    replay("forwarded_url");
}

/// Every target's corpus, including those without a test of their own above
/// (`accept_language`, `par_answer`, `way_back`, `discovered_issuer`, …).
#[test]
fn every_corpus_replays() {
    for (name, _) in TARGETS {
        replay(name);
    }
}
