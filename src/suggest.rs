//! Did-you-mean: which known names a mistyped word is close to, and the
//! sentence that offers them.
//!
//! What belongs here: the edit distance (Damerau–Levenshtein, so a swapped
//! pair of letters is one typo), how close counts as "close", and the
//! wording `did you mean 'a' or 'b'?`. Callers choose the candidates and the
//! tolerance; nothing here knows what a command, a plugin or a key is.

/// How far a candidate may be from the typed word and still be offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tolerance {
    /// Case is ignored, and a candidate may be up to a third of its length
    /// (in characters) away, at least one edit: for names people type, such
    /// as commands, plugins and environments.
    Typo,
    /// Case counts, and a candidate may be up to this many edits away: for
    /// names that have one spelling, such as configuration keys.
    Edits(usize),
}

impl Tolerance {
    /// The distance between `typed` and `candidate` when it is within this
    /// tolerance.
    fn distance(self, typed: &str, candidate: &str) -> Option<usize> {
        match self {
            Tolerance::Typo => {
                let distance =
                    strsim::damerau_levenshtein(&candidate.to_lowercase(), &typed.to_lowercase());
                (distance <= (candidate.chars().count() / 3).max(1)).then_some(distance)
            }
            Tolerance::Edits(most) => {
                let distance = strsim::damerau_levenshtein(candidate, typed);
                (distance <= most).then_some(distance)
            }
        }
    }
}

/// Every candidate within `tolerance` of `typed`, closest first. Candidates
/// equally close keep the order they were given in, so a caller can rank one
/// group before another (built-in commands before plugins) and sort each
/// group by name. A name given twice is offered once.
pub fn close_matches<'a>(
    typed: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    tolerance: Tolerance,
) -> Vec<&'a str> {
    let mut matches: Vec<(usize, &'a str)> = Vec::new();
    for candidate in candidates {
        if matches.iter().any(|(_, seen)| *seen == candidate) {
            continue;
        }
        if let Some(distance) = tolerance.distance(typed, candidate) {
            matches.push((distance, candidate));
        }
    }
    // A stable sort: ties stay in the caller's order.
    matches.sort_by_key(|(distance, _)| *distance);
    matches.into_iter().map(|(_, name)| name).collect()
}

/// The single closest candidate within `tolerance`, the first given among
/// equally close ones; for messages that offer one name.
pub fn closest<'a>(
    typed: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    tolerance: Tolerance,
) -> Option<&'a str> {
    close_matches(typed, candidates, tolerance)
        .into_iter()
        .next()
}

/// `'a'`, `'a' or 'b'`, `'a', 'b' or 'c'`; empty for no names.
pub fn one_of(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// `did you mean 'a' or 'b'?`, or `None` when there is nothing to offer.
pub fn did_you_mean(names: &[&str]) -> Option<String> {
    (!names.is_empty()).then(|| format!("did you mean {}?", one_of(names)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_close_match_closest_first_ties_in_given_order() {
        let names = ["auth", "config", "help", "plugin", "hello"];
        assert_eq!(
            close_matches("helo", names, Tolerance::Typo),
            ["help", "hello"]
        );
        assert_eq!(
            close_matches("helo", ["hello", "help"], Tolerance::Typo),
            ["hello", "help"]
        );
        // Distance 1 comes before distance 2, whatever the given order.
        assert_eq!(
            close_matches("configu", ["configure", "config"], Tolerance::Typo),
            ["config", "configure"]
        );
        assert_eq!(
            close_matches("helo", ["help", "help"], Tolerance::Typo),
            ["help"]
        );
        assert!(close_matches("zzzzzz", names, Tolerance::Typo).is_empty());
    }

    #[test]
    fn typo_tolerance_ignores_case_and_scales_with_length() {
        assert_eq!(
            closest("PROD", ["prod", "dev"], Tolerance::Typo),
            Some("prod")
        );
        // Transpositions are one edit.
        assert_eq!(
            closest("deplyo", ["deploy"], Tolerance::Typo),
            Some("deploy")
        );
        // Short names allow one edit, not two.
        assert_eq!(closest("ap", ["api"], Tolerance::Typo), Some("api"));
        assert_eq!(closest("a", ["api"], Tolerance::Typo), None);
        // A third of the length: two edits for a six-letter name.
        assert_eq!(closest("cnfg", ["config"], Tolerance::Typo), Some("config"));
        assert_eq!(closest("cnf", ["config"], Tolerance::Typo), None);
    }

    #[test]
    fn edits_tolerance_counts_case() {
        let keys = ["OAUTH_CLIENT_ID", "OAUTH_CLIENT_SECRET"];
        assert_eq!(
            closest("OAUTH_CLEINT_ID", keys, Tolerance::Edits(2)),
            Some("OAUTH_CLIENT_ID")
        );
        assert_eq!(closest("oauth_client_id", keys, Tolerance::Edits(2)), None);
        assert_eq!(closest("OAUTH_CLNT_IDXX", keys, Tolerance::Edits(2)), None);
    }

    #[test]
    fn the_same_suggestions_as_before() {
        assert_eq!(
            closest("confg", ["auth", "config"], Tolerance::Typo),
            Some("config")
        );
        assert_eq!(closest("helo", ["hello"], Tolerance::Typo), Some("hello"));
        assert_eq!(closest("zzzzzz", ["auth", "config"], Tolerance::Typo), None);
    }

    #[test]
    fn sentences() {
        assert_eq!(one_of(&[]), "");
        assert_eq!(one_of(&["a"]), "'a'");
        assert_eq!(one_of(&["a", "b"]), "'a' or 'b'");
        assert_eq!(one_of(&["a", "b", "c"]), "'a', 'b' or 'c'");
        assert_eq!(did_you_mean(&[]), None);
        assert_eq!(
            did_you_mean(&["help"]).as_deref(),
            Some("did you mean 'help'?")
        );
        assert_eq!(
            did_you_mean(&["help", "hello"]).as_deref(),
            Some("did you mean 'help' or 'hello'?")
        );
    }
}
