//! Asterisk's option strings: letters, each maybe with an argument in
//! parentheses (`qw`, `r(name)v(-2)`), as ChanSpy and MixMonitor take them.

/// The letters of `s` in order, each with its argument if it has one. An argument
/// that is never closed runs to the end of the string.
pub(super) fn option_letters(s: &str) -> Vec<(char, Option<String>)> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        let mut arg = None;
        if chars.get(i) == Some(&'(') {
            let close = chars[i..]
                .iter()
                .position(|&c| c == ')')
                .map_or(chars.len(), |p| i + p);
            arg = Some(chars[i + 1..close.min(chars.len())].iter().collect());
            i = close + 1;
        }
        out.push((c, arg));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::option_letters;

    #[test]
    fn letters_and_arguments() {
        let got = option_letters("qr(name)v(-2)w(open");
        let want: Vec<(char, Option<String>)> = vec![
            ('q', None),
            ('r', Some("name".into())),
            ('v', Some("-2".into())),
            ('w', Some("open".into())),
        ];
        assert_eq!(got, want);
        assert!(option_letters("").is_empty());
        assert_eq!(option_letters("b()"), vec![('b', Some(String::new()))]);
    }
}
