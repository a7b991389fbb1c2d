//! Signs a shopper in through the real IdP (following redirects and filling its
//! sign-in and consent forms, like the tests' scripted shopper) and prints the
//! `Cookie` header the shopper then holds for the start URL.
//! Usage: `login_cookie <start-url> <login>`; `shop.localhost` resolves to loopback.

use anyhow::{ensure, Context, Result};
use sso_tests::Shopper;

#[tokio::main]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args.next().context("usage: login_cookie <start-url> <login>")?;
    let login = args.next().unwrap_or_else(|| "bench".into());
    let shopper = Shopper::new(&["shop"])?;
    let landing = shopper.walk(shopper.page(&url).await?, &login).await?;
    ensure!(
        landing.status == 200,
        "login ended with {} at {}:\n{}",
        landing.status,
        landing.url,
        landing.body
    );
    let cookies = shopper.cookies_for(&url);
    ensure!(!cookies.is_empty(), "no cookie after login");
    println!("{cookies}");
    Ok(())
}
