//! The YAML reader against documents good and hostile.

use super::*;

#[test]
fn numbers_keep_the_text_they_were_written_as_and_keys_are_names() {
    let node = parse("a: 012345678901\nb: 1.10\nc: 0x10\n0x10: x\n1.10: y\nd: \"7\"\n").unwrap();
    let text = |key: &str| {
        node.get(key)
            .and_then(Node::text_as_written)
            .map(str::to_string)
    };
    assert_eq!(
        node.get("a").map(|n| &n.value),
        Some(&Value::Int(12_345_678_901))
    );
    assert_eq!(text("a").as_deref(), Some("012345678901"));
    assert_eq!(text("b").as_deref(), Some("1.10"));
    assert_eq!(text("c").as_deref(), Some("0x10"));
    assert_eq!(text("d").as_deref(), Some("7"));
    assert_eq!(text("0x10").as_deref(), Some("x"));
    assert_eq!(text("1.10").as_deref(), Some("y"));
    assert!(node.get("16").is_none());
}

#[test]
fn merge_keys_are_refused_and_a_quoted_one_is_a_name() {
    let err = parse("base: &b { x: 1 }\nthing:\n  <<: *b\n  y: 2\n").unwrap_err();
    assert!(err.message.contains("merge keys"), "{err:?}");
    assert_eq!(err.span.line, 3);
    let quoted = parse("\"<<\": 1\n").unwrap();
    assert!(quoted.get("<<").is_some());
}

#[test]
fn a_byte_order_mark_is_skipped() {
    let text = decode(b"\xEF\xBB\xBFunit: api\n").expect("utf-8");
    let doc = parse(text).expect("parses");
    assert_eq!(doc.get("unit").and_then(Node::as_str), Some("api"));
}

#[test]
fn numbers_must_be_finite() {
    for text in ["a: .nan\n", "a: .inf\n", "a: -.Inf\n", "a: 1e400\n"] {
        let err = parse(text).expect_err(text);
        assert!(err.message.contains("finite"), "{text}: {}", err.message);
        assert_eq!(err.span, Span::new(1, 4), "{text}");
    }
    let quoted = parse("a: \".nan\"\n").expect("a string");
    assert_eq!(quoted.get("a").and_then(Node::as_str), Some(".nan"));
}

#[test]
fn positions_are_one_based() {
    let node = parse("a: 1\nb:\n  c: x\n").unwrap();
    let b = node.get("b").unwrap();
    let c = b.get("c").unwrap();
    assert_eq!(c.span, Span::new(3, 6));
    assert_eq!(node.entries().unwrap()[1].key_span, Span::new(2, 1));
}

#[test]
fn plain_scalars_follow_the_core_schema() {
    let node = parse("[1, -2, 1.5, true, ~, '3', x]").unwrap();
    let Value::Seq(items) = node.value else {
        panic!("not a list")
    };
    let values: Vec<_> = items.into_iter().map(|n| n.value).collect();
    assert_eq!(
        values,
        vec![
            Value::Int(1),
            Value::Int(-2),
            Value::Float(1.5),
            Value::Bool(true),
            Value::Null,
            Value::Str("3".into()),
            Value::Str("x".into())
        ]
    );
}

#[test]
fn a_value_after_a_quoted_key_is_placed_on_its_first_character() {
    let node = parse("routes:\n  \"GET /users\": handlr\n").unwrap();
    let value = node.get("routes").unwrap().get("GET /users").unwrap();
    assert_eq!(value.span, Span::new(2, 17));
}

#[test]
fn duplicate_keys_are_rejected_with_the_first_line() {
    let err = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
    assert_eq!(err.span, Span::new(3, 1));
    assert!(
        err.message.contains("first defined at line 1"),
        "{}",
        err.message
    );
}

#[test]
fn alias_bomb_is_refused() {
    let mut doc = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let prev = i - 1;
        doc.push_str(&format!(
            "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
        ));
    }
    let err = parse(&doc).unwrap_err();
    assert!(err.message.contains("alias bomb"), "{}", err.message);
}

#[test]
fn invalid_utf8_points_at_the_byte() {
    let err = decode(b"a: 1\nb: \xff\n").unwrap_err();
    assert_eq!(err.span, Span::new(2, 4));
}

#[test]
fn a_second_document_is_an_error_at_its_marker() {
    let err = parse("environment: dev\n---\nbroken: [unclosed\n").unwrap_err();
    assert_eq!(err.span, Span::new(2, 1), "{err:?}");
    assert!(err.message.contains("second YAML document"), "{err:?}");
    assert!(err.help.contains("---"), "{err:?}");
    let err = parse("a: 1\n---\nb: 2\n").unwrap_err();
    assert_eq!(err.span.line, 2);
}

#[test]
fn content_after_a_document_end_marker_is_a_second_document() {
    let err = parse("a: 1\n...\nb: 2\n").unwrap_err();
    assert!(err.message.contains("second YAML document"), "{err:?}");
    assert_eq!(err.span.line, 3);
}

#[test]
fn one_document_with_its_markers_is_fine() {
    let node = parse("---\na: 1\n...\n").unwrap();
    assert_eq!(node.get("a").map(|n| n.span.line), Some(2));
}
