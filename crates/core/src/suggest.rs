//! "Did you mean …?" for misspelled names: one scorer for every layer that rejects a name
//! (spec keys, stage names, parameters, enum values).

/// The candidate closest to `word`, when it is close enough to be a likely misspelling.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(f64, &str)> = None;
    for c in candidates {
        let score = strsim::normalized_damerau_levenshtein(&word.to_lowercase(), &c.to_lowercase());
        if score >= 0.5 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c)
}

/// `" (did you mean 'x'?)"` or nothing.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    match closest(word, candidates) {
        Some(c) => format!(" (did you mean '{c}'?)"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_names_only() {
        assert_eq!(
            closest("iteratons", ["iterations", "batch"]),
            Some("iterations")
        );
        assert_eq!(closest("hybird", ["coupled", "hybrid"]), Some("hybrid"));
        assert_eq!(closest("zzz", ["iterations", "batch"]), None);
        assert_eq!(did_you_mean("zzz", ["batch"]), "");
    }
}
