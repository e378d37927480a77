//! User text quoted in messages and printed: bounded and free of control characters.

/// Characters of user text that a message quotes at most.
pub const EXCERPT_CHARS: usize = 60;

/// `s` as a message quotes it: at most [`EXCERPT_CHARS`] characters, control characters
/// escaped, and the length of the rest stated when it is cut.
pub fn excerpt(s: &str) -> String {
    let mut out = escape(&s.chars().take(EXCERPT_CHARS).collect::<String>());
    let shown: usize = s.chars().take(EXCERPT_CHARS).map(char::len_utf8).sum();
    if shown < s.len() {
        out.push_str(&format!("… ({} more bytes)", s.len() - shown));
    }
    out
}

/// A message from a parser, which may quote its input: at most 200 characters, escaped.
pub fn excerpt_long(s: &str) -> String {
    let mut out = escape(&s.chars().take(200).collect::<String>());
    if s.chars().nth(200).is_some() {
        out.push('…');
    }
    out
}

/// `s` with every control character (C0, DEL, C1) written as `\u{..}`, so that printing it
/// cannot move the cursor, recolour or retitle a terminal.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// At most `n` items of a list of names for a message, each an [`excerpt`], and how many
/// were left out.
pub fn list<S: AsRef<str>>(items: &[S], n: usize) -> String {
    let mut shown: Vec<String> = items.iter().take(n).map(|s| excerpt(s.as_ref())).collect();
    if items.len() > n {
        shown.push(format!("… and {} more", items.len() - n));
    }
    shown.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_bounded_and_escaped() {
        assert_eq!(excerpt("short"), "short");
        let long = "é".repeat(1000);
        let e = excerpt(&long);
        assert!(e.starts_with(&"é".repeat(EXCERPT_CHARS)));
        assert!(e.ends_with("(1880 more bytes)"), "{e}");
        assert_eq!(escape("a\x1b[2Jb\u{9b}c\n"), "a\\u{1b}[2Jb\\u{9b}c\\u{a}");
        assert_eq!(list(&["a", "b", "c"], 2), "a, b, … and 1 more");
        assert_eq!(list(&["a"], 2), "a");
    }
}
