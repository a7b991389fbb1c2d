//! `[sites.pages]` as the model holds it: how the gateway's own pages (sign-in
//! failed, the IdP chooser, 403, 429, 502/503, 421, 404) look and which language they
//! speak by default. Checked by [`crate::pages`].

use std::path::PathBuf;

/// The shipped languages of the gateway's pages, in this order.
pub const SHIPPED_LANGUAGES: [&str; 5] = ["en", "de", "fr", "es", "nl"];

/// `[sites.pages]`: every key is optional; a site without the section gets the
/// shipped design under its host name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PagesConfig {
    /// The name shown at the top of every page (default: the host of `public_url`).
    pub shop_name: String,
    /// The logo shown beside the name: an `https://` URL or a path of the site.
    pub logo_url: Option<String>,
    /// The primary colour as `#rrggbb` (lower case).
    pub primary_color: String,
    /// Where a shopper asks for help: an `https://` URL or `mailto:` address.
    pub support_url: Option<String>,
    /// A directory of overrides: `templates/*.html` and `messages/<lang>.toml`.
    pub dir: Option<PathBuf>,
    /// The language of a visitor whose `Accept-Language` names none the site speaks.
    pub default_language: String,
}

/// The primary colour of the shipped design.
pub const DEFAULT_PRIMARY_COLOR: &str = "#2754c5";

impl PagesConfig {
    /// The shipped design for a site called `shop_name`.
    pub fn shipped(shop_name: &str) -> Self {
        PagesConfig {
            shop_name: shop_name.to_string(),
            logo_url: None,
            primary_color: DEFAULT_PRIMARY_COLOR.to_string(),
            support_url: None,
            dir: None,
            default_language: "en".to_string(),
        }
    }
}
