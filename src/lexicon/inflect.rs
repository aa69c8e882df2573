//! The surface forms a lexicon term is matched in: its regular plural and its spelling with a
//! hyphen, an en dash or a space between words. Possessives need no form of their own: the apostrophe is a
//! word boundary, so `nurse's` and `nurses'` match `nurse` and `nurses`.

/// The lower-case forms of `term` that are matched. `plural` adds the regular English plural of
/// the last word: `+es` after s, x, z, ch, sh; consonant + y becomes `ies`; otherwise `+s`.
/// Irregular plurals are listed in lexicons as `exact` terms.
pub fn surface_forms(term: &str, plural: bool) -> Vec<String> {
    let mut bases = vec![term.to_owned()];
    if plural && let Some(p) = regular_plural(term) {
        bases.push(p);
    }
    let mut out = Vec::with_capacity(bases.len() * 2);
    for b in bases {
        // Words joined by a space, a hyphen or an en dash ("Mexican–American", as some style
        // guides write a compound of two equal parts).
        if b.contains(' ') || b.contains('-') {
            out.push(b.replace(' ', "-"));
            out.push(b.replace('-', " "));
            out.push(b.replace([' ', '-'], "–"));
        }
        out.push(b);
    }
    out.sort();
    out.dedup();
    out
}

fn regular_plural(term: &str) -> Option<String> {
    let last = term.rsplit([' ', '-']).next().unwrap_or(term);
    // Only words: "lgbtq+" or "9/11" take no plural.
    if last.chars().count() < 2 || !last.chars().all(char::is_alphabetic) {
        return None;
    }
    let stem = &term[..term.len() - last.len()];
    let plural = if ["s", "x", "z", "ch", "sh"]
        .iter()
        .any(|e| last.ends_with(e))
    {
        format!("{last}es")
    } else if let Some(y_stem) = last.strip_suffix('y')
        && y_stem.chars().last().is_some_and(|c| !"aeiou".contains(c))
    {
        format!("{y_stem}ies")
    } else {
        format!("{last}s")
    };
    Some(format!("{stem}{plural}"))
}

#[cfg(test)]
mod tests {
    use super::surface_forms;

    #[test]
    fn regular_plurals() {
        assert_eq!(surface_forms("nurse", true), ["nurse", "nurses"]);
        assert_eq!(surface_forms("actress", true), ["actress", "actresses"]);
        assert_eq!(surface_forms("lady", true), ["ladies", "lady"]);
        assert_eq!(surface_forms("boy", true), ["boy", "boys"]);
        assert_eq!(surface_forms("church", true), ["church", "churches"]);
        assert_eq!(surface_forms("she", false), ["she"]);
    }

    #[test]
    fn multi_word_terms_match_with_hyphen_en_dash_or_space() {
        assert_eq!(
            surface_forms("african american", true),
            [
                "african american",
                "african americans",
                "african-american",
                "african-americans",
                "african–american",
                "african–americans"
            ]
        );
        assert_eq!(
            surface_forms("non-binary", false),
            ["non binary", "non-binary", "non–binary"]
        );
    }

    #[test]
    fn symbols_take_no_plural() {
        assert_eq!(surface_forms("lgbtq+", true), ["lgbtq+"]);
    }
}
