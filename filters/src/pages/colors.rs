//! Colours a page can be read in (WCAG 2.2 contrast): the text on the site's primary
//! colour is white or near-black, whichever contrasts more, and links take the primary
//! colour darkened until they reach 4.5:1 on white. A shop picks any colour; the page
//! stays readable (`axe-core`'s color-contrast rule holds for every choice).

/// A button in the primary colour: (background, text), both `#rrggbb`. The text is
/// white or near-black, whichever contrasts more; when neither reaches 4.5:1 (a
/// mid-tone), the background is darkened instead and the text is white.
pub fn button(primary: &str) -> (String, &'static str) {
    let Some(c) = rgb(primary) else {
        return (link_on_white(primary), "#ffffff");
    };
    let (white, dark) = (contrast(c, [255, 255, 255]), contrast(c, [29, 35, 48]));
    if white.max(dark) < 4.5 {
        (link_on_white(primary), "#ffffff")
    } else if white >= dark {
        (primary.to_string(), "#ffffff")
    } else {
        (primary.to_string(), "#1d2330")
    }
}

/// `primary`, darkened until it reads at 4.5:1 or more on white, as `#rrggbb`.
pub fn link_on_white(primary: &str) -> String {
    let mut c = rgb(primary).unwrap_or([39, 84, 197]);
    for _ in 0..64 {
        if contrast(c, [255, 255, 255]) >= 4.5 {
            break;
        }
        c = c.map(|v| (f64::from(v) * 0.9) as u8);
    }
    format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2])
}

fn rgb(hex: &str) -> Option<[u8; 3]> {
    let hex = hex.strip_prefix('#')?;
    if hex.len() != 6 {
        return None;
    }
    let byte = |i: usize| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok();
    Some([byte(0)?, byte(2)?, byte(4)?])
}

/// Relative luminance (WCAG 2.2).
fn luminance(c: [u8; 3]) -> f64 {
    let channel = |v: u8| {
        let s = f64::from(v) / 255.0;
        if s <= 0.04045 {
            s / 12.92
        } else {
            ((s + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * channel(c[0]) + 0.7152 * channel(c[1]) + 0.0722 * channel(c[2])
}

fn contrast(a: [u8; 3], b: [u8; 3]) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_primary_colour_gives_readable_text_and_links() {
        for primary in [
            "#2754c5", "#ffeb3b", "#ffffff", "#000000", "#e91e63", "#00ff00", "#777777", "#ff5722",
        ] {
            let (background, text) = button(primary);
            let ratio = contrast(rgb(&background).expect("bg"), rgb(text).expect("text"));
            assert!(ratio >= 4.5, "{primary}: {text} on {background} is {ratio:.2}");
            let link = link_on_white(primary);
            assert!(
                contrast(rgb(&link).expect("link"), [255, 255, 255]) >= 4.5,
                "{primary} gives {link}"
            );
        }
        assert_eq!(button("#ffeb3b"), ("#ffeb3b".to_string(), "#1d2330"));
        assert_eq!(button("#2754c5"), ("#2754c5".to_string(), "#ffffff"));
        assert_eq!(link_on_white("#2754c5"), "#2754c5", "already readable");
    }
}
