//! GitHub Actions' workflow commands (`::error file=F,line=L::message`),
//! with their data and properties escaped so that no text ends one early.

/// Under GitHub Actions (`GITHUB_ACTIONS=true`).
pub fn github_actions() -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}

fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// Text that no CI runner reads as a command: a line that would start
/// (leading blanks aside) with `::` (a workflow command: `::add-mask::`,
/// `::warning::`, `::stop-commands::`) or `##[` (the older syntax) gets a
/// zero-width space in front. Every human line driftless prints passes
/// here; only [`annotation`]'s own lines do not.
pub fn inert(text: &str) -> std::borrow::Cow<'_, str> {
    let forged = |line: &str| {
        let start = line.trim_start();
        start.starts_with("::") || start.starts_with("##[")
    };
    if !text.split(['\n', '\r']).any(forged) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut rest = text;
    loop {
        let end = rest.find(['\n', '\r']).map_or(rest.len(), |i| i + 1);
        let (line, next) = rest.split_at(end);
        if forged(line) {
            out.push('\u{200b}');
        }
        out.push_str(line);
        if next.is_empty() {
            break;
        }
        rest = next;
    }
    std::borrow::Cow::Owned(out)
}

/// Where an annotation points: a file, line and column.
#[derive(Clone, Copy, Debug)]
pub struct At<'a> {
    pub file: &'a str,
    pub line: u32,
    pub col: u32,
}

/// A workflow command: `::error file=F,line=L,col=C,title=T::message`.
pub fn annotation(level: &str, at: Option<At>, title: Option<&str>, message: &str) -> String {
    let mut properties = Vec::new();
    if let Some(at) = at {
        properties.push(format!("file={}", escape_property(at.file)));
        properties.push(format!("line={}", at.line));
        properties.push(format!("col={}", at.col));
    }
    if let Some(title) = title {
        properties.push(format!("title={}", escape_property(title)));
    }
    let properties = if properties.is_empty() {
        String::new()
    } else {
        format!(" {}", properties.join(","))
    };
    format!("::{level}{properties}::{}", escape_data(message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_line_of_untrusted_text_starts_a_workflow_command() {
        let hostile = "ok\n::add-mask::x\r  ::warning::forged\n##[set-output name=a;]b\nfine ::x";
        let shown = inert(hostile);
        for line in shown.split(['\n', '\r']) {
            let start = line.trim_start();
            assert!(
                !start.starts_with("::") && !start.starts_with("##["),
                "{line:?}"
            );
        }
        assert_eq!(shown.replace('\u{200b}', ""), hostile);
        assert!(matches!(inert("plain text"), std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn annotations_escape_what_would_end_them() {
        let at = At {
            file: "environments/dev,x.yaml",
            line: 3,
            col: 7,
        };
        assert_eq!(
            annotation("error", Some(at), None, "bad: 100%\nsecond"),
            "::error file=environments/dev%2Cx.yaml,line=3,col=7::bad: 100%25%0Asecond"
        );
        assert_eq!(
            annotation("error", None, Some("smoke: a"), "m"),
            "::error title=smoke%3A a::m"
        );
    }
}
