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
