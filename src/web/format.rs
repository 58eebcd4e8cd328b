//! Turning stored text into safe HTML: escaping, links, line breaks, search highlights.

use crate::domain::search_fold;

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn url_end(s: &str) -> usize {
    let end = s
        .char_indices()
        .find(|(_, c)| c.is_whitespace() || !c.is_ascii() || matches!(c, '<' | '>' | '"'))
        .map(|(i, _)| i)
        .unwrap_or(s.len());
    // Trailing punctuation belongs to the sentence, not the link.
    s[..end]
        .trim_end_matches(['.', ',', ')', '!', '?', ';', ':', '\''])
        .len()
}

/// A message body as HTML: everything escaped, URLs made links, line breaks kept.
pub fn message_html(body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 32);
    let mut rest = body;
    while !rest.is_empty() {
        let next = ["https://", "http://"]
            .iter()
            .filter_map(|p| rest.find(p))
            .min();
        match next {
            Some(i) => {
                push_text(&mut out, &rest[..i]);
                let tail = &rest[i..];
                let n = url_end(tail);
                let scheme_len = if tail.starts_with("https://") { 8 } else { 7 };
                if n > scheme_len {
                    let url = escape(&tail[..n]);
                    out.push_str(&format!(
                        "<a href=\"{url}\" rel=\"noopener noreferrer nofollow\" target=\"_blank\">{url}</a>"
                    ));
                } else {
                    push_text(&mut out, &tail[..n.max(scheme_len)]);
                }
                rest = &tail[n.max(scheme_len)..];
            }
            None => {
                push_text(&mut out, rest);
                break;
            }
        }
    }
    out
}

fn push_text(out: &mut String, s: &str) {
    for (i, line) in s.split('\n').enumerate() {
        if i > 0 {
            out.push_str("<br>");
        }
        out.push_str(&escape(line));
    }
}

/// An excerpt of `body` around the first match of the folded query, with the match in `<mark>`.
pub fn highlight(body: &str, folded_query: &str) -> String {
    // Fold character by character, remembering which original character each folded byte came from.
    let chars: Vec<char> = body.chars().collect();
    let mut folded = String::new();
    let mut owner: Vec<usize> = Vec::new();
    for (i, c) in chars.iter().enumerate() {
        let f = search_fold(&c.to_string());
        for _ in 0..f.len() {
            owner.push(i);
        }
        folded.push_str(&f);
    }
    let Some(start) = (!folded_query.is_empty())
        .then(|| folded.find(folded_query))
        .flatten()
    else {
        return escape(&chars.iter().take(160).collect::<String>());
    };
    let end = start + folded_query.len();
    let (a, b) = (owner[start], owner[end - 1] + 1);
    let from = a.saturating_sub(60);
    let to = (b + 100).min(chars.len());
    let s = |x: usize, y: usize| escape(&chars[x..y].iter().collect::<String>());
    format!(
        "{}{}<mark>{}</mark>{}{}",
        if from > 0 { "…" } else { "" },
        s(from, a),
        s(a, b),
        s(b, to),
        if to < chars.len() { "…" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_links() {
        let h = message_html("<b>避難所</b>\nsee https://example.jp/a?b=1&c=2.");
        assert_eq!(
            h,
            "&lt;b&gt;避難所&lt;/b&gt;<br>see <a href=\"https://example.jp/a?b=1&amp;c=2\" rel=\"noopener noreferrer nofollow\" target=\"_blank\">https://example.jp/a?b=1&amp;c=2</a>."
        );
        assert_eq!(message_html("http:// x"), "http:// x");
        assert!(!message_html("javascript:alert(1)").contains("<a"));
    }

    #[test]
    fn highlights_width_variants() {
        let h = highlight("第１避難所をｶｲｾﾂしました", &search_fold("カイセツ"));
        assert_eq!(h, "第１避難所を<mark>ｶｲｾﾂ</mark>しました");
        let h = highlight("ＡＢＣ会議", "abc");
        assert_eq!(h, "<mark>ＡＢＣ</mark>会議");
    }
}
