//! "Did you mean": the known event names closest to a mistyped one.

use std::collections::HashSet;

/// At most this many suggestions.
const MAX_SUGGESTIONS: usize = 5;

/// Up to five names from `known`, best first: same name ignoring case, then names containing
/// the input (shortest first), then names a few edits away, then names sharing a word.
pub(super) fn suggest(input: &str, known: &[String]) -> Vec<String> {
    let wanted = input.trim().to_lowercase();
    if wanted.is_empty() {
        return Vec::new();
    }
    let lowered: Vec<(String, &String)> = known.iter().map(|k| (k.to_lowercase(), k)).collect();
    // Tiers in order of preference; a name keeps its place in the first tier that has it.
    let mut ranked: Vec<&String> =
        lowered.iter().filter(|(low, _)| *low == wanted).map(|(_, k)| *k).collect();

    let mut containing: Vec<&String> =
        lowered.iter().filter(|(low, _)| low.contains(&wanted)).map(|(_, k)| *k).collect();
    containing.sort_by(|a, b| a.chars().count().cmp(&b.chars().count()).then(a.cmp(b)));
    ranked.extend(containing);

    let mut close: Vec<(usize, &String)> = lowered
        .iter()
        .map(|(low, k)| (levenshtein(&wanted, low), *k))
        .filter(|(distance, k)| *distance <= edit_budget(&wanted, k))
        .collect();
    close.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(b.1)));
    ranked.extend(close.into_iter().map(|(_, k)| k));

    let words = words_of(&wanted);
    let mut overlapping: Vec<(usize, &String)> = lowered
        .iter()
        .map(|(low, k)| (words_of(low).intersection(&words).count(), *k))
        .filter(|(shared, _)| *shared > 0)
        .collect();
    overlapping.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    ranked.extend(overlapping.into_iter().map(|(_, k)| k));

    let mut seen = HashSet::new();
    ranked
        .into_iter()
        .filter(|name| seen.insert(name.as_str()))
        .take(MAX_SUGGESTIONS)
        .cloned()
        .collect()
}

/// How many edits still count as "close": half the longer name, at least 2, so short typos
/// (`Logn` → `Logout`) are found but unrelated short names are not.
fn edit_budget(wanted: &str, candidate: &str) -> usize {
    let longer = wanted.chars().count().max(candidate.chars().count());
    (longer / 2).max(2)
}

fn words_of(name: &str) -> HashSet<&str> {
    name.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect()
}

/// Edit distance (insertions, deletions, substitutions) between two strings, by characters.
pub(super) fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn levenshtein_counts_edits() {
        assert_eq!(levenshtein("", ""), 0);
        assert_eq!(levenshtein("abc", ""), 3);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("logn", "login"), 1);
        assert_eq!(levenshtein("logn", "logout"), 3);
        assert_eq!(levenshtein("é", "e"), 1);
    }

    #[test]
    fn typo_finds_the_near_names() {
        let known = names(&["Page View", "Login", "Logout", "Purchase", "Sign Up"]);
        assert_eq!(suggest("Logn", &known), ["Login", "Logout"]);
    }

    #[test]
    fn tiers_come_in_order_case_then_substring_then_edits_then_words() {
        let known = names(&[
            "Add To Cart Clicked",
            "add to cart",
            "Add To Cart",
            "Cart Viewed",
            "Add To Carts",
            "Checkout",
        ]);
        let got = suggest("ADD TO CART", &known);
        // Case-insensitive matches first (in list order), then longer names containing it,
        // shortest first, then a word-sharing name.
        assert_eq!(
            got,
            ["add to cart", "Add To Cart", "Add To Carts", "Add To Cart Clicked", "Cart Viewed"]
        );
    }

    #[test]
    fn substring_matches_shortest_first_then_by_name() {
        let known = names(&["Search Results Viewed", "Search", "Searched", "Research"]);
        assert_eq!(
            suggest("search", &known),
            ["Search", "Research", "Searched", "Search Results Viewed"]
        );
    }

    #[test]
    fn word_overlap_ranks_by_shared_words() {
        let known =
            names(&["Video Played Fully", "Song Played", "Video Paused", "Unrelated Thing"]);
        let got = suggest("video played start", &known);
        assert_eq!(got[0], "Video Played Fully");
        assert!(got.contains(&"Song Played".to_owned()));
        assert!(!got.contains(&"Unrelated Thing".to_owned()));
    }

    #[test]
    fn at_most_five_and_nothing_for_unrelated_input() {
        let known: Vec<String> = (0..10).map(|i| format!("Event {i}")).collect();
        assert_eq!(suggest("event", &known).len(), 5);
        assert!(suggest("zzzzzzzz", &names(&["Login", "Purchase"])).is_empty());
        assert!(suggest("  ", &names(&["Login"])).is_empty());
    }
}
