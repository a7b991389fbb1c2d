//! Resident memory per session: fills the in-memory store with 100 k and then 1 M
//! sessions shaped like real ones (customer claims and a refresh token; the ID token is
//! not kept by default) and prints the RSS growth per session as JSON.
//! Run: `cargo run --release -p sso-benches --bin session_memory`.

use sso_benches::{populated_store, rss_bytes};

/// The allocator the gateway binary uses, so the figure is the gateway's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let mut results = Vec::new();
    for n in [100_000usize, 1_000_000] {
        let before = rss_bytes();
        let (store, ids) = populated_store(n);
        let after = rss_bytes();
        let id_bytes = std::mem::size_of_val(ids.as_slice()) as u64;
        let per_session = (after.saturating_sub(before).saturating_sub(id_bytes)) as f64 / n as f64;
        results.push(serde_json::json!({
            "sessions": store.count(),
            "rss_growth_mib": (after.saturating_sub(before)) as f64 / 1048576.0,
            "bytes_per_session": per_session.round(),
            "rss_total_mib": after as f64 / 1048576.0,
        }));
        drop(ids);
        drop(store);
    }
    println!("{}", serde_json::Value::Array(results));
}
