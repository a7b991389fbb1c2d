//! The texts of the gateway's pages, per language: the shipped catalogues
//! (`messages/<lang>.toml`, compiled in) and a site's own (`<dir>/messages/<lang>.toml`),
//! which override single texts or add a language. A text missing in a language comes
//! from the site's default language, then from English.

use serde::Deserialize;
use sso_config::pages::{is_language_tag, SHIPPED_LANGUAGES};
use std::collections::HashMap;
use std::path::Path;

/// The shipped catalogues, in [`SHIPPED_LANGUAGES`] order.
const SHIPPED: [&str; 5] = [
    include_str!("messages/en.toml"),
    include_str!("messages/de.toml"),
    include_str!("messages/fr.toml"),
    include_str!("messages/es.toml"),
    include_str!("messages/nl.toml"),
];

/// Largest message file a site may give, in bytes.
const MAX_FILE: u64 = 256 * 1024;

/// One language's texts, as a catalogue file holds them.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Texts {
    /// Labels of the page itself (`back_to_shop`, `chooser_title`…).
    #[serde(default)]
    pub ui: HashMap<String, String>,
    /// Page titles by HTTP status (`"404"`), and `default`.
    #[serde(default)]
    pub titles: HashMap<String, String>,
    /// The sentence for each error code (`state_unknown`).
    #[serde(default)]
    pub messages: HashMap<String, String>,
}

impl Texts {
    fn merge(&mut self, other: Texts) {
        self.ui.extend(other.ui);
        self.titles.extend(other.titles);
        self.messages.extend(other.messages);
    }
}

/// Which table of [`Texts`] a lookup reads.
#[derive(Debug, Clone, Copy)]
pub enum Table {
    Ui,
    Titles,
    Messages,
}

/// Every language a site speaks and its texts.
#[derive(Debug, Clone)]
pub struct Catalogue {
    /// Lower-case tags: the shipped ones, then those the site adds.
    spoken: Vec<String>,
    default: String,
    texts: HashMap<String, Texts>,
}

impl Catalogue {
    /// The shipped languages only, English by default.
    pub fn shipped() -> Result<Self, String> {
        let mut texts = HashMap::new();
        for (lang, source) in SHIPPED_LANGUAGES.iter().zip(SHIPPED) {
            let parsed: Texts = toml::from_str(source).map_err(|e| format!("shipped messages/{lang}.toml: {e}"))?;
            texts.insert((*lang).to_string(), parsed);
        }
        Ok(Catalogue {
            spoken: SHIPPED_LANGUAGES.iter().map(|l| (*l).to_string()).collect(),
            default: "en".to_string(),
            texts,
        })
    }

    /// English with no texts: what a page falls back to if the shipped catalogues
    /// did not parse (the unit tests make sure they do).
    pub fn empty() -> Self {
        Catalogue {
            spoken: vec!["en".to_string()],
            default: "en".to_string(),
            texts: HashMap::new(),
        }
    }

    /// The shipped languages with a site's `dir/messages/*.toml` over them, and its
    /// default language (which must be spoken).
    pub fn for_site(dir: Option<&Path>, default: &str) -> Result<Self, String> {
        let mut catalogue = Catalogue::shipped()?;
        if let Some(dir) = dir {
            for (lang, texts) in site_files(&dir.join("messages"))? {
                if !catalogue.spoken.contains(&lang) {
                    catalogue.spoken.push(lang.clone());
                }
                catalogue.texts.entry(lang).or_default().merge(texts);
            }
        }
        if !catalogue.spoken.iter().any(|l| l == default) {
            return Err(format!(
                "default_language {default:?} is neither shipped ({}) nor given in dir/messages/",
                SHIPPED_LANGUAGES.join(", ")
            ));
        }
        catalogue.default = default.to_string();
        Ok(catalogue)
    }

    /// The languages spoken, lower case.
    pub fn spoken(&self) -> &[String] {
        &self.spoken
    }

    /// The default language.
    pub fn default_language(&self) -> &str {
        &self.default
    }

    /// The text `key` of `table` in `lang`, else in the default language, else in
    /// English; `None` when no catalogue has it.
    pub fn text(&self, lang: &str, table: Table, key: &str) -> Option<&str> {
        [lang, self.default.as_str(), "en"].into_iter().find_map(|l| {
            let texts = self.texts.get(l)?;
            let map = match table {
                Table::Ui => &texts.ui,
                Table::Titles => &texts.titles,
                Table::Messages => &texts.messages,
            };
            map.get(key).map(String::as_str)
        })
    }

    /// Every `ui` text of `lang` (with the fallbacks of [`Catalogue::text`]).
    pub fn ui(&self, lang: &str) -> HashMap<&str, &str> {
        let mut ui = HashMap::new();
        for l in ["en", self.default.as_str(), lang] {
            if let Some(texts) = self.texts.get(l) {
                ui.extend(texts.ui.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            }
        }
        ui
    }
}

/// The `<lang>.toml` files of `dir` (absent: none), each parsed.
fn site_files(dir: &Path) -> Result<Vec<(String, Texts)>, String> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let lang = path
            .file_stem()
            .and_then(|s| s.to_str())
            .map(str::to_ascii_lowercase)
            .filter(|l| is_language_tag(l))
            .ok_or_else(|| {
                format!(
                    "{}: the file name must be a language tag such as de.toml",
                    path.display()
                )
            })?;
        let text = read_bounded(&path, MAX_FILE)?;
        let texts: Texts = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        files.push((lang, texts));
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(files)
}

/// The text of the regular file `path` (symlinks followed), at most `max` bytes: a
/// device or FIFO in its place would never end, and a file that grows while read is
/// cut off and refused.
pub fn read_bounded(path: &Path, max: u64) -> Result<String, String> {
    use std::io::Read;
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("{shown}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{shown}: not a regular file"));
    }
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(max + 1).read_to_string(&mut text))
        .map_err(|e| format!("{shown}: {e}"))?;
    if text.len() as u64 > max {
        return Err(format!("{shown}: larger than {} KiB", max / 1024));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_shipped_language_has_every_key_of_english() {
        let c = Catalogue::shipped().expect("shipped catalogues parse");
        let keys = |t: &Texts| -> BTreeSet<String> {
            let mut k: BTreeSet<String> = t.ui.keys().map(|k| format!("ui.{k}")).collect();
            k.extend(t.titles.keys().map(|k| format!("titles.{k}")));
            k.extend(t.messages.keys().map(|k| format!("messages.{k}")));
            k
        };
        let english = keys(&c.texts["en"]);
        for lang in SHIPPED_LANGUAGES {
            let have = keys(&c.texts[lang]);
            let missing: Vec<_> = english.difference(&have).collect();
            let extra: Vec<_> = have.difference(&english).collect();
            assert!(
                missing.is_empty() && extra.is_empty(),
                "{lang}: missing {missing:?}, extra {extra:?}"
            );
            for (k, v) in &c.texts[lang].messages {
                assert!(!v.trim().is_empty(), "{lang}: {k} is empty");
                if lang != "en" {
                    assert_ne!(Some(v), c.texts["en"].messages.get(k), "{lang}: {k} is not translated");
                }
            }
        }
    }

    #[test]
    fn a_site_overrides_one_text_and_adds_a_language() {
        let dir = std::env::temp_dir().join(format!("sso-pages-cat-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("messages")).expect("dir");
        std::fs::write(
            dir.join("messages/de.toml"),
            "[messages]\nrate_limited = \"Langsam!\"\n",
        )
        .expect("de");
        std::fs::write(
            dir.join("messages/it.toml"),
            "[ui]\nback_to_shop = \"Torna al negozio\"\n",
        )
        .expect("it");
        let c = Catalogue::for_site(Some(&dir), "it").expect("catalogue");
        assert_eq!(c.text("de", Table::Messages, "rate_limited"), Some("Langsam!"));
        assert!(c
            .text("de", Table::Messages, "not_found")
            .is_some_and(|t| t.starts_with("Hier")));
        assert_eq!(c.text("it", Table::Ui, "back_to_shop"), Some("Torna al negozio"));
        assert!(
            c.text("it", Table::Messages, "not_found")
                .is_some_and(|t| t.starts_with("There")),
            "English"
        );
        assert!(c.spoken().iter().any(|l| l == "it"));
        assert!(
            Catalogue::for_site(Some(&dir), "pt").is_err(),
            "a default nobody speaks"
        );
        std::fs::write(dir.join("messages/bad name.toml"), "").expect("bad");
        assert!(Catalogue::for_site(Some(&dir), "en").is_err());
        std::fs::remove_file(dir.join("messages/bad name.toml")).expect("rm");
        std::fs::write(dir.join("messages/nl.toml"), "[typo]\nx = \"y\"\n").expect("nl");
        assert!(Catalogue::for_site(Some(&dir), "en").is_err(), "unknown table");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
