//! Files an owner hands the agent from the page: the rules for their names, the types shown
//! inline, and the names they get on disk (`<workdir>/uploads/<turn id>/<name>`).
//!
//! A name is checked, not guessed at: one that is a path (`/`, `\`), holds a control
//! character, is empty, `.` or `..`, or is longer than [`MAX_NAME_BYTES`] is refused (the
//! API answers `400 invalid_name`). What remains is made safe for a file system and for the
//! agent's prompt: every character but letters, digits and `. _ - + ( ) @ ,` and the space
//! becomes `_`, leading dots and spaces go (no hidden files), and runs of spaces fold.

/// The longest accepted name, in bytes (UTF-8).
pub const MAX_NAME_BYTES: usize = 255;

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("the file name is empty")]
    Empty,
    #[error("the file name is longer than {MAX_NAME_BYTES} bytes")]
    TooLong,
    #[error("the file name must be a name, not a path (it contains `/` or `\\`)")]
    Path,
    #[error("the file name contains a control character")]
    Control,
    #[error("the file name has no usable character")]
    Unusable,
}

/// A checked, safe file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadName(String);

impl UploadName {
    pub fn parse(raw: &str) -> Result<UploadName, NameError> {
        if raw.is_empty() {
            return Err(NameError::Empty);
        }
        if raw.len() > MAX_NAME_BYTES {
            return Err(NameError::TooLong);
        }
        if raw.contains(['/', '\\']) {
            return Err(NameError::Path);
        }
        if raw.chars().any(char::is_control) {
            return Err(NameError::Control);
        }
        let mut out = String::with_capacity(raw.len());
        for c in raw.chars() {
            let keep =
                c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '(' | ')' | '@' | ',');
            if keep {
                out.push(c);
            } else if c.is_whitespace() {
                if !out.ends_with(' ') {
                    out.push(' ');
                }
            } else {
                out.push('_');
            }
        }
        let safe = out.trim_start_matches(['.', ' ']).trim_end().to_owned();
        if safe.is_empty() || safe.chars().all(|c| c == '.' || c == '_') {
            return Err(NameError::Unusable);
        }
        Ok(UploadName(safe))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Raster image types the page shows inline (thumbnails) and the agent can look at. Anything
/// else — SVG above all, which can carry script — is only ever a download.
pub const INLINE_IMAGES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/// Whether `content_type` is shown inline (a thumbnail).
pub fn is_inline_image(content_type: &str) -> bool {
    INLINE_IMAGES.contains(&content_type)
}

/// The names a turn's uploads get on disk, in their order: their own, except that a name
/// already taken in the turn gets ` (2)`, ` (3)`, … before its extension (`image.jpg`,
/// `image (2).jpg`).
pub fn disk_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut taken = std::collections::HashSet::new();
    let mut out = Vec::new();
    for name in names {
        let mut candidate = name.to_owned();
        let mut n = 2;
        while !taken.insert(candidate.to_lowercase()) {
            candidate = match name.rsplit_once('.') {
                Some((stem, ext)) if !stem.is_empty() => format!("{stem} ({n}).{ext}"),
                _ => format!("{name} ({n})"),
            };
            n += 1;
        }
        out.push(candidate);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_control_characters_and_empty_names_are_refused() {
        assert_eq!(UploadName::parse(""), Err(NameError::Empty));
        assert_eq!(UploadName::parse("../etc/passwd"), Err(NameError::Path));
        assert_eq!(UploadName::parse("a\\b"), Err(NameError::Path));
        assert_eq!(UploadName::parse("a\nb"), Err(NameError::Control));
        assert_eq!(UploadName::parse("a\0b"), Err(NameError::Control));
        assert_eq!(UploadName::parse(".."), Err(NameError::Unusable));
        assert_eq!(UploadName::parse("***"), Err(NameError::Unusable));
        assert_eq!(UploadName::parse(&"a".repeat(256)), Err(NameError::TooLong));
    }

    #[test]
    fn names_are_made_safe() {
        let ok = |s: &str| UploadName::parse(s).unwrap().as_str().to_owned();
        assert_eq!(ok("photo.jpg"), "photo.jpg");
        assert_eq!(ok(".bashrc"), "bashrc");
        assert_eq!(
            ok("Screenshot 2026-12-06 at 10.00.00\u{202f}AM.png"),
            "Screenshot 2026-12-06 at 10.00.00 AM.png"
        );
        assert_eq!(ok("a`$(rm -rf x)`;b.txt"), "a__(rm -rf x)__b.txt");
        assert_eq!(ok("résumé.pdf"), "résumé.pdf");
    }

    #[test]
    fn repeated_names_get_numbers() {
        assert_eq!(
            disk_names(["image.jpg", "image.jpg", "IMAGE.jpg", "notes", "notes"]),
            vec![
                "image.jpg",
                "image (2).jpg",
                "IMAGE (3).jpg",
                "notes",
                "notes (2)"
            ]
        );
    }

    #[test]
    fn only_raster_images_are_inline() {
        assert!(is_inline_image("image/png"));
        assert!(!is_inline_image("image/svg+xml"));
        assert!(!is_inline_image("text/html"));
    }
}
