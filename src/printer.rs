//! The only writer to stdout and stderr for commands. (In stdio MCP mode
//! stdout belongs to the protocol and nothing here is called.)
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::borrow::Cow;
use std::io::Write;

/// Whether `c` must not reach a terminal as itself: control characters
/// (the escape that starts a sequence to clear the screen, a newline that
/// forges a table row) and the invisible format characters that hide or
/// reorder text (zero-width spaces and joiners, direction marks and
/// overrides, the byte-order mark, the soft hyphen) — `local-owner` with a
/// zero-width space looks like `local-owner`, and a right-to-left override
/// shows `x\u{202e}gnp.exe` as `xexe.png`.
pub fn hides_text(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

/// Text from the database or a caller (agent, client and tool names, error
/// messages) as it may be shown in a terminal: characters that
/// [`hides_text`] are shown escaped (`\u{1b}`, `\n`, `\u{200b}`).
pub fn visible(s: &str) -> Cow<'_, str> {
    escaped(s, hides_text)
}

/// Like [`visible`] for a message of several lines: its newlines stay.
pub fn visible_lines(s: &str) -> Cow<'_, str> {
    escaped(s, |c| c != '\n' && hides_text(c))
}

fn escaped(s: &str, hidden: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(&hidden) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .map(|c| {
                if hidden(c) {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

pub fn out(s: &str) {
    let _ = try_out(s);
}

pub fn json(v: &serde_json::Value) {
    out(&serde_json::to_string_pretty(v).unwrap_or_default());
}

/// [`out`] that reports a failed write (a full disk, a closed pipe) and
/// flushes: for what must not be lost unseen, a secret shown only once.
pub fn try_out(s: &str) -> std::io::Result<()> {
    let mut o = std::io::stdout().lock();
    writeln!(o, "{s}")?;
    o.flush()
}

/// [`json`] that reports a failed write, like [`try_out`].
pub fn try_json(v: &serde_json::Value) -> std::io::Result<()> {
    try_out(&serde_json::to_string_pretty(v).unwrap_or_default())
}

pub fn err(s: &str) {
    let mut e = std::io::stderr().lock();
    let _ = writeln!(e, "{s}");
}

/// Column-aligned table with a header row; cells are shown [`visible`].
pub fn table(headers: &[&str], rows: &[Vec<String>]) {
    let rows: Vec<Vec<Cow<'_, str>>> = rows
        .iter()
        .map(|r| r.iter().map(|c| visible(c)).collect())
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(c);
                s.push_str(&" ".repeat(widths[i] - c.chars().count() + 2));
            }
        }
        s.trim_end().to_string()
    };
    out(&line(headers.to_vec()));
    for r in rows {
        out(&line(r.iter().map(|c| c.as_ref()).collect()));
    }
}

#[cfg(test)]
mod tests {
    use super::{visible, visible_lines};

    #[test]
    fn control_characters_are_shown_escaped() {
        assert_eq!(visible("plain Ünïcode name"), "plain Ünïcode name");
        assert!(matches!(visible("plain"), std::borrow::Cow::Borrowed(_)));
        assert_eq!(visible("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(visible("row\nforged\r\t"), "row\\nforged\\r\\t");
        assert_eq!(visible("del\u{7f}c1\u{9b}"), "del\\u{7f}c1\\u{9b}");
        assert_eq!(visible("local-owner\u{200b}"), "local-owner\\u{200b}");
        assert_eq!(visible("x\u{202e}gnp.exe"), "x\\u{202e}gnp.exe");
        assert_eq!(visible("\u{feff}bom"), "\\u{feff}bom");
        assert_eq!(visible_lines("two\nlines\u{1b}[2J"), "two\nlines\\u{1b}[2J");
    }
}
