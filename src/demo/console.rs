//! The demo target's text console: what has been typed, kept bounded, and its
//! wrapping into the rows of a character grid for display.

/// The console keeps at most this much text; older lines are dropped, so hours of
/// typing (or pasting a book) cannot grow memory without bound.
pub const MAX_BYTES: usize = 64 * 1024;

/// Tab stops every this many columns, as on a terminal.
const TAB_STOP: usize = 8;

#[derive(Debug, Default)]
pub struct Console {
    text: String,
}

impl Console {
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn type_char(&mut self, c: char) {
        self.text.push(c);
        if self.text.len() > MAX_BYTES {
            self.drop_oldest();
        }
    }

    /// Deletes the last character, newlines included: the console edits like a
    /// text area, so Backspace at the start of a line joins it to the previous one.
    pub fn backspace(&mut self) {
        self.text.pop();
    }

    /// Cuts the text down to three quarters of the limit, at a line start when one
    /// is near, so trimming happens once per 16 KiB typed rather than on every key.
    fn drop_oldest(&mut self) {
        let mut cut = self.text.len() - MAX_BYTES * 3 / 4;
        while !self.text.is_char_boundary(cut) {
            cut += 1;
        }
        let next_line = self.text.get(cut..).and_then(|rest| rest.find('\n'));
        if let Some(newline) = next_line.filter(|&n| n < MAX_BYTES / 4) {
            cut += newline + 1;
        }
        self.text.drain(..cut);
    }

    /// The text as display rows of at most `columns` characters: lines wrap at the
    /// right edge and tabs become spaces up to the next tab stop. The result always
    /// has at least one row (the one the cursor is on).
    pub fn rows(&self, columns: usize) -> Vec<String> {
        let columns = columns.max(1);
        let mut rows = Vec::new();
        for line in self.text.split('\n') {
            let mut row = String::new();
            let mut width = 0;
            for c in line.chars() {
                let cells = if c == '\t' {
                    TAB_STOP - width % TAB_STOP
                } else {
                    1
                };
                for _ in 0..cells {
                    if width == columns {
                        rows.push(std::mem::take(&mut row));
                        width = 0;
                    }
                    row.push(if c == '\t' { ' ' } else { c });
                    width += 1;
                }
            }
            rows.push(row);
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn console(text: &str) -> Console {
        let mut console = Console::default();
        text.chars().for_each(|c| console.type_char(c));
        console
    }

    #[test]
    fn test_typing_backspace() {
        let mut console = console("ab\nc");
        console.backspace();
        console.backspace();
        assert_eq!(console.text(), "ab");
        console.backspace();
        console.backspace();
        console.backspace();
        assert_eq!(console.text(), "");
    }

    #[test]
    fn test_full_drops_oldest_lines() {
        let mut console = Console::default();
        for i in 0..20_000 {
            for c in format!("line {i}\n").chars() {
                console.type_char(c);
            }
            assert!(console.text().len() <= MAX_BYTES);
        }
        assert!(console.text().starts_with("line "));
        assert!(console.text().ends_with("line 19999\n"));
    }

    #[test]
    fn test_full_without_newlines_keeps_char_boundaries() {
        let mut console = Console::default();
        for _ in 0..MAX_BYTES {
            console.type_char('\u{e9}');
        }
        assert!(console.text().len() <= MAX_BYTES);
        assert!(console.text().chars().all(|c| c == '\u{e9}'));
    }

    #[test]
    fn test_rows_wrap_and_expand_tabs() {
        assert_eq!(console("").rows(4), vec![""]);
        assert_eq!(
            console("abcdefghij\n").rows(4),
            vec!["abcd", "efgh", "ij", ""]
        );
        assert_eq!(console("a\tb").rows(20), vec!["a       b"]);
        assert_eq!(console("abc\td").rows(5), vec!["abc  ", "   d"]);
        assert_eq!(console("abcd").rows(0), vec!["a", "b", "c", "d"]);
    }
}
