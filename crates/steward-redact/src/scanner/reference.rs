//! A simple model of [`Scanner`](super::Scanner), for the differential test: the same rules
//! and checks, applied the plainest way. Keywords are found by trying every keyword at every
//! position; each rule's pattern runs (with the `regex` crate, as written in [`RULES`]) at
//! every hit of its keywords, rule after rule; overlaps are resolved against a plain list;
//! and the second pass is never skipped (the trait's default `find_settling`). The scanner
//! must redact every body exactly as this does: its prefilter, matching engine, resolution
//! and settling are optimisations, not rules.

use std::ops::Range;

use regex::bytes::Regex;

use super::{After, Before, Check, FORWARD, RULE_SET, RULES, Reach, Rule, Secret, passes};
use crate::{Finding, Redactor, RuleSetVersion};

pub(super) struct Reference {
    rules: Vec<(&'static Rule, Regex)>,
    after_separator: Regex,
    url_password: Regex,
}

impl Reference {
    pub(super) fn new() -> Self {
        let compile = |pattern: &str| Regex::new(pattern).expect("the pattern compiles");
        Self {
            rules: RULES
                .iter()
                .map(|rule| (rule, compile(rule.pattern)))
                .collect(),
            // What precedes an assignment's value: name, quote, blanks, separator, blanks,
            // quote.
            after_separator: compile(
                r#"(?-u)\A[A-Za-z0-9_.\-]*["']?[ \t]*(?::=|=>|=|:)[ \t]*["']?"#,
            ),
            // What precedes a URL's password: `://`, the user, `:`.
            url_password: compile(r"(?-u)\A://[^:]*:"),
        }
    }

    /// Where keywords start, as a non-overlapping leftmost search reports them: at each
    /// position, the keyword that starts there (no keyword starts another, tested), and the
    /// search goes on after it.
    fn hits(input: &[u8]) -> Vec<(usize, &'static str)> {
        let mut hits = Vec::new();
        let mut at = 0;
        while let Some(rest) = input.get(at..).filter(|rest| !rest.is_empty()) {
            let keyword = RULES
                .iter()
                .flat_map(|rule| rule.keywords.iter())
                .find(|keyword| rest.starts_with(keyword.as_bytes()));
            if let Some(keyword) = keyword {
                hits.push((at, *keyword));
                at += keyword.len();
            } else {
                at += 1;
            }
        }
        hits
    }

    fn secret(&self, secret: Secret, matched: &[u8]) -> Option<Range<usize>> {
        match secret {
            Secret::Whole => Some(0..matched.len()),
            Secret::AfterSeparator => {
                let start = self.after_separator.find(matched)?.end();
                (start < matched.len()).then_some(start..matched.len())
            }
            Secret::UrlPassword => {
                let start = self.url_password.find(matched)?.end();
                let end = matched.len().checked_sub(2)?;
                (start < end).then_some(start..end)
            }
        }
    }
}

impl Redactor for Reference {
    fn rule_set(&self) -> RuleSetVersion {
        RuleSetVersion::of(RULE_SET)
    }

    fn find(&self, input: &[u8], findings: &mut Vec<Finding>) {
        let hits = Self::hits(input);
        let mut offers: Vec<(&Rule, Range<usize>)> = Vec::new();
        for (rule, regex) in &self.rules {
            // Where the rule's last block that reaches to the end ended: a keyword inside it
            // is part of it.
            let mut covered = 0;
            for &(start, keyword) in &hits {
                if !rule.keywords.contains(&keyword) || start < covered {
                    continue;
                }
                let previous = start.checked_sub(1).and_then(|at| input.get(at)).copied();
                let word = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'_';
                let before = match rule.before {
                    Before::Anything => true,
                    Before::WordBoundary => !previous.is_some_and(word),
                    Before::Scheme => previous.is_some_and(|byte| {
                        byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'.' | b'-')
                    }),
                };
                if !before {
                    continue;
                }
                let end = match rule.reach {
                    Reach::End => input.len(),
                    Reach::Line => {
                        let line_end = input
                            .iter()
                            .enumerate()
                            .skip(start)
                            .find(|(_, byte)| **byte == b'\n')
                            .map_or(input.len(), |(at, _)| at);
                        line_end.min(start + FORWARD)
                    }
                };
                let Some(haystack) = input.get(start..end) else {
                    continue;
                };
                let Some(whole) = regex.find(haystack) else {
                    continue;
                };
                if let After::NotIn(alphabet) = rule.after
                    && haystack
                        .get(whole.end())
                        .is_some_and(|byte| alphabet(*byte))
                {
                    continue;
                }
                let Some(secret) = haystack
                    .get(..whole.end())
                    .and_then(|matched| self.secret(rule.secret, matched))
                else {
                    continue;
                };
                if matches!(rule.reach, Reach::End) {
                    covered = start + whole.end();
                }
                let range = start + secret.start..start + secret.end;
                if input
                    .get(range.clone())
                    .is_some_and(|bytes| passes(rule.check, bytes))
                {
                    offers.push((rule, range));
                }
            }
        }
        // Earlier rules win overlaps; a generic value that runs into a kept secret is cut
        // where the secret starts, if what is left still passes.
        let mut kept: Vec<Finding> = Vec::new();
        for (rule, mut range) in offers {
            let start = range.start;
            if kept
                .iter()
                .any(|other| other.range.start <= start && start < other.range.end)
            {
                continue;
            }
            let next = kept
                .iter()
                .map(|other| other.range.start)
                .filter(|other| *other >= start)
                .min();
            if let Some(next) = next
                && next < range.end
            {
                let cut = start..next;
                let passes_cut = input
                    .get(cut.clone())
                    .is_some_and(|value| passes(Check::HighEntropy, value));
                if !matches!(rule.check, Check::HighEntropy) || !passes_cut {
                    continue;
                }
                range = cut;
            }
            kept.push(Finding {
                kind: rule.kind,
                range,
            });
        }
        kept.sort_by_key(|finding| finding.range.start);
        findings.extend(kept);
    }
}
