//! The default scanner: one rule per published credential format, behind a keyword prefilter.

use std::{collections::BTreeMap, sync::OnceLock};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::bytes::Regex;

use crate::{Finding, RedactError, Redactor, RuleSetVersion, SecretKind};

/// Shannon entropy, in bits per byte, that a value assigned to a secret-ish name must reach to
/// be redacted as a [`SecretKind::GenericSecret`]. The value must also be
/// 16 to 128 bytes long and hold both a letter and a digit.
///
/// 3.0 bits: random hex of 16 digits or more reaches it with high probability (a 32-digit hex
/// key about 3.6), random base62 or base64 of 16 characters or more about 3.7 to 5, while
/// names, paths and words assigned to such a name (`settings.SECRET_KEY`, `get_password()`,
/// `xxxxxxxx…`) stay below it or fail the letter-and-digit test. The name gate (`secret`,
/// `token`, `password`, `api_key`, ...) is what keeps the threshold this low precise.
pub const GENERIC_MIN_ENTROPY: f64 = 3.0;

/// The shortest generic value redacted.
const GENERIC_MIN_LEN: usize = 16;
/// The longest generic value the rule reads (longer runs are cut here and still redacted).
const GENERIC_MAX_LEN: usize = 128;

/// Bytes a window reaches back from a keyword (bounded by the line start) for rules whose
/// keyword sits inside the match: names before `=`, a URL's scheme before `://`.
const BACK: usize = 256;
/// Bytes a window reaches past a keyword (bounded by the line end); no single-line secret
/// format is longer.
const FORWARD: usize = 4096;

/// The published example keys of provider documentation. They are format-valid, appear in
/// countless tutorials and prompts about them, and grant nothing; redacting them would only
/// hide what a prompt was about, so they are left as written (docs/secrets.md).
const PUBLISHED_EXAMPLES: &[&[u8]] = &[
    // AWS IAM user guide, "Managing access keys".
    b"AKIAIOSFODNN7EXAMPLE",
    b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    // AWS STS documentation's temporary credentials.
    b"ASIAIOSFODNN7EXAMPLE",
    // Stripe API reference's test-mode key (test keys are not caught by the Stripe rule; this
    // one is also left alone when assigned to a secret-ish name).
    b"sk_test_4eC39HqLyjWDarjtT1zdp7dc",
    // jwt.io's debugger default token (HS256, secret `your-256-bit-secret`).
    b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
];

/// Where a rule looks around a keyword hit.
#[derive(Clone, Copy)]
enum Window {
    /// The match starts at the keyword and ends on its line.
    FromKeyword,
    /// The keyword sits inside the match, which lies on the keyword's line.
    AroundKeyword,
    /// The match starts at the keyword and may run to the end of the body (key blocks).
    ToEnd,
}

/// What a match must also satisfy beyond its pattern.
#[derive(Clone, Copy)]
enum Check {
    /// The pattern is the whole format.
    Format,
    /// A provider token: its random part must not be a placeholder (`xxxx…`, `0000…`).
    NotPlaceholder,
    /// A generic assignment: entropy, length and character mix (see [`GENERIC_MIN_ENTROPY`]).
    HighEntropy,
    /// A URL password: not a placeholder word or template variable.
    NotPlaceholderPassword,
}

/// One rule: a format, where it is looked for, and its checks. The secret is capture group 1
/// if the pattern has one, else the whole match.
struct Rule {
    kind: SecretKind,
    keywords: &'static [&'static str],
    pattern: &'static str,
    window: Window,
    check: Check,
}

/// The rules, each from its provider's published format. Order is priority: where matches of
/// two rules overlap, the earlier rule's match is kept (a `ghp_` token assigned to `TOKEN=` is
/// a GitHub token, not a generic secret). `(?-u)` everywhere: bytes, ASCII classes, `\b` as
/// an ASCII word boundary, so a body that is not UTF-8 is scanned like any other.
const RULES: &[Rule] = &[
    Rule {
        // -----BEGIN [RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP ]PRIVATE KEY[ BLOCK]----- (RFC 7468,
        // OpenSSH PROTOCOL.key, RFC 4880); an unterminated block runs to the end.
        kind: SecretKind::PrivateKey,
        keywords: &["-----BEGIN"],
        pattern: r"(?-u)-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----(?s:.*?)(?:-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----|\z)",
        window: Window::ToEnd,
        check: Check::Format,
    },
    Rule {
        // AWS IAM identifiers: AKIA (long-term) and ASIA (STS temporary) then 16 base32.
        kind: SecretKind::AwsAccessKeyId,
        keywords: &["AKIA", "ASIA"],
        pattern: r"(?-u)\b(?:AKIA|ASIA)[A-Z2-7]{16}\b",
        window: Window::FromKeyword,
        check: Check::NotPlaceholder,
    },
    Rule {
        // 40 base64 characters named as an AWS secret (aws_secret_access_key, AWS_SECRET_KEY).
        kind: SecretKind::AwsSecretAccessKey,
        keywords: &["aws", "AWS", "Aws"],
        pattern: r#"(?-u)(?i:aws[a-z0-9_.\-]{0,24}secret[a-z0-9_.\-]{0,24})["']?\s*(?::=|=>|=|:)\s*["']?([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|\z)"#,
        window: Window::AroundKeyword,
        check: Check::NotPlaceholder,
    },
    Rule {
        // Google Cloud API keys: AIza then 35 of [0-9A-Za-z_-].
        kind: SecretKind::GoogleApiKey,
        keywords: &["AIza"],
        pattern: r"(?-u)\b(AIza[0-9A-Za-z_\-]{35})(?:[^0-9A-Za-z_\-]|\z)",
        window: Window::FromKeyword,
        check: Check::NotPlaceholder,
    },
    Rule {
        // GitHub fine-grained PATs: github_pat_, 22 base62, `_`, 59 base62.
        kind: SecretKind::GithubFineGrainedToken,
        keywords: &["github_pat_"],
        pattern: r"(?-u)\bgithub_pat_[0-9A-Za-z]{22}_[0-9A-Za-z]{59}\b",
        window: Window::FromKeyword,
        check: Check::NotPlaceholder,
    },
    Rule {
        // GitHub classic tokens ("Behind GitHub's new authentication token formats", 2021):
        // ghp_ (personal), gho_ (OAuth), ghu_ (user-to-server), ghs_ (server-to-server),
        // ghr_ (refresh), then 36 base62 (30 random, 6 checksum).
        kind: SecretKind::GithubToken,
        keywords: &["ghp_", "gho_", "ghu_", "ghs_", "ghr_"],
        pattern: r"(?-u)\bgh[pousr]_[0-9A-Za-z]{36}\b",
        window: Window::FromKeyword,
        check: Check::NotPlaceholder,
    },
    Rule {
        // GitLab personal access tokens: glpat- then 20 characters (legacy), or the routable
        // form with a longer payload and a `.01.` version and checksum suffix.
        kind: SecretKind::GitlabToken,
        keywords: &["glpat-"],
        pattern: r"(?-u)\b(glpat-[0-9A-Za-z_\-]{20,64}(?:\.[0-9a-z]{2}\.[0-9a-z]{7,9})?)(?:[^0-9A-Za-z_\-.]|\z)",
        window: Window::FromKeyword,
        check: Check::NotPlaceholder,
    },
    Rule {
        // Anthropic API keys: sk-ant-api03- (and admin keys sk-ant-admin01-), then about 95
        // characters of [A-Za-z0-9_-].
        kind: SecretKind::AnthropicKey,
        keywords: &["sk-ant-"],
        pattern: r"(?-u)\b(sk-ant-[a-z]{3,8}[0-9]{2}-[0-9A-Za-z_\-]{80,120})(?:[^0-9A-Za-z_\-]|\z)",
        window: Window::FromKeyword,
        check: Check::NotPlaceholder,
    },
    Rule {
        // OpenAI project keys: sk-proj- then at least 40 of [A-Za-z0-9_-] (about 156 today);
        // service-account (sk-svcacct-) and admin (sk-admin-) keys share the form.
        kind: SecretKind::OpenAiProjectKey,
        keywords: &["sk-proj-", "sk-svcacct-", "sk-admin-"],
        pattern: r"(?-u)\b(sk-(?:proj|svcacct|admin)-[0-9A-Za-z_\-]{40,250})(?:[^0-9A-Za-z_\-]|\z)",
        window: Window::FromKeyword,
        check: Check::NotPlaceholder,
    },
    Rule {
        // OpenAI legacy user keys: sk- then 48 base62, the middle often `T3BlbkFJ` ("OpenAI"
        // in base64).
        kind: SecretKind::OpenAiKey,
        keywords: &["sk-"],
        pattern: r"(?-u)\bsk-[0-9A-Za-z]{48}\b",
        window: Window::FromKeyword,
        check: Check::NotPlaceholder,
    },
    Rule {
        // Hugging Face user access tokens: hf_ then 34 letters (base62 in newer tokens).
        kind: SecretKind::HuggingFaceToken,
        keywords: &["hf_"],
        pattern: r"(?-u)\bhf_[0-9A-Za-z]{34}\b",
        window: Window::FromKeyword,
        check: Check::NotPlaceholder,
    },
    Rule {
        // Stripe live secret and restricted keys: sk_live_ / rk_live_ then 24 to 247 base62.
        // Test-mode keys (sk_test_) reach no money and appear in Stripe's own docs.
        kind: SecretKind::StripeKey,
        keywords: &["sk_live_", "rk_live_"],
        pattern: r"(?-u)\b[rs]k_live_[0-9A-Za-z]{24,247}\b",
        window: Window::FromKeyword,
        check: Check::NotPlaceholder,
    },
    Rule {
        // Slack tokens: xoxb- (bot), xoxa- (app), xoxp- (user), xoxr- (refresh), xoxs-
        // (session): numeric team/user ids, then the secret part.
        kind: SecretKind::SlackToken,
        keywords: &["xoxb-", "xoxa-", "xoxp-", "xoxr-", "xoxs-"],
        pattern: r"(?-u)\bxox[abprs]-[0-9]{6,}-[0-9A-Za-z\-]{8,}\b",
        window: Window::FromKeyword,
        check: Check::NotPlaceholder,
    },
    Rule {
        // SendGrid API keys: SG. then a 22-character id, `.`, and a 43-character secret.
        kind: SecretKind::SendgridKey,
        keywords: &["SG."],
        pattern: r"(?-u)\b(SG\.[0-9A-Za-z_\-]{22}\.[0-9A-Za-z_\-]{43})(?:[^0-9A-Za-z_\-]|\z)",
        window: Window::FromKeyword,
        check: Check::NotPlaceholder,
    },
    Rule {
        // npm access tokens (2021 format): npm_ then 36 base62 (30 random, 6 checksum).
        kind: SecretKind::NpmToken,
        keywords: &["npm_"],
        pattern: r"(?-u)\bnpm_[0-9A-Za-z]{36}\b",
        window: Window::FromKeyword,
        check: Check::NotPlaceholder,
    },
    Rule {
        // PyPI API tokens: pypi- then a macaroon whose base64 starts with the encoding of its
        // location, `pypi.org`.
        kind: SecretKind::PypiToken,
        keywords: &["pypi-AgEIcHlwaS5vcmc"],
        pattern: r"(?-u)\bpypi-AgEIcHlwaS5vcmc[0-9A-Za-z_\-]{50,}",
        window: Window::FromKeyword,
        check: Check::Format,
    },
    Rule {
        // JWS compact serialization (RFC 7515) of a JWT: base64url JSON header `{"` (eyJ),
        // payload `{"`, and a signature; unsigned tokens (alg none) carry no secret.
        kind: SecretKind::Jwt,
        keywords: &["eyJ"],
        pattern: r"(?-u)\beyJ[0-9A-Za-z_\-]{8,}\.eyJ[0-9A-Za-z_\-]{8,}\.[0-9A-Za-z_\-]{16,}",
        window: Window::FromKeyword,
        check: Check::Format,
    },
    Rule {
        // RFC 3986 userinfo with a password: scheme://user:password@host. Only the password is
        // replaced, so the steward still sees which database and user were meant.
        kind: SecretKind::UrlPassword,
        keywords: &["://"],
        pattern: r"(?-u)\b[A-Za-z][A-Za-z0-9+.\-]{1,30}://[^\s:@/\[\]]{1,128}:([^\s@/]{1,256})@[^\s@/]",
        window: Window::AroundKeyword,
        check: Check::NotPlaceholderPassword,
    },
    Rule {
        // name = value, name: value, NAME=value, "name": "value", for names that say secret.
        kind: SecretKind::GenericSecret,
        keywords: &[
            "secret",
            "token",
            "passw",
            "pwd",
            "api_key",
            "apikey",
            "api-key",
            "access_key",
            "auth",
            "credential",
            "private_key",
        ],
        pattern: r#"(?-u)(?i:[a-z0-9_.\-]*(?:secret|token|passw(?:or)?d|pwd|api[_\-]?key|access[_\-]?key|auth[_\-]?key|credentials?|private[_\-]?key)[a-z0-9_.\-]*)["']?\s*(?::=|=>|=|:)\s*["']?([A-Za-z0-9+/_\-.=~]{16,128})(?:[^A-Za-z0-9+/_\-.=~]|\z)"#,
        window: Window::AroundKeyword,
        check: Check::HighEntropy,
    },
];

/// The rule set's version: 1 is the rules above. Changing what a rule catches is a new version,
/// so a record's header says which rules it was scanned with.
const RULE_SET: u8 = 1;

/// A compiled rule.
struct Compiled {
    kind: SecretKind,
    regex: Regex,
    window: Window,
    check: Check,
}

/// The default [`Redactor`]: the rules of [`SecretKind`], from each provider's published
/// format, behind an Aho-Corasick keyword prefilter.
///
/// A body is searched once for every rule's keywords (`AKIA`, `ghp_`, `-----BEGIN`, `://`,
/// `token`, ...); a rule's regex then runs only on the line around each of its keywords' hits
/// (a key block: from its BEGIN line on). Text without any keyword costs one prefilter pass.
///
/// ```
/// use steward_redact::{FingerprintKey, Redactor, Scanner};
///
/// let scanner = Scanner::standard()?;
/// let key = FingerprintKey::from_bytes(&[7; 32]);
/// let body = b"export GITHUB_TOKEN=ghp_R8u2kFq7ZcW1mN4pT6yV9bX3sD5gH0jL2aQe and retry";
/// let redacted = scanner.redact(body, &key);
/// let text = String::from_utf8(redacted.body().to_vec())?;
/// assert!(text.starts_with("export GITHUB_TOKEN=[REDACTED:github-token:"));
/// assert!(!text.contains("ghp_"));
/// assert_eq!(redacted.counts().total(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Scanner {
    keywords: AhoCorasick,
    /// Per keyword pattern id, the rules it triggers.
    triggers: Vec<Vec<usize>>,
    rules: Vec<Compiled>,
}

impl Scanner {
    /// Compiles the rules.
    ///
    /// # Errors
    ///
    /// [`RedactError::Rule`] if a rule does not compile (a bug of this crate, reported).
    pub fn new() -> Result<Self, RedactError> {
        let mut keywords = Vec::new();
        let mut triggers: Vec<Vec<usize>> = Vec::new();
        let mut rules = Vec::with_capacity(RULES.len());
        for (index, rule) in RULES.iter().enumerate() {
            let regex = Regex::new(rule.pattern).map_err(|error| RedactError::Rule {
                kind: rule.kind.as_str(),
                source: Box::new(error),
            })?;
            rules.push(Compiled {
                kind: rule.kind,
                regex,
                window: rule.window,
                check: rule.check,
            });
            for keyword in rule.keywords {
                match keywords.iter().position(|known| known == keyword) {
                    Some(id) => {
                        if let Some(list) = triggers.get_mut(id) {
                            list.push(index);
                        }
                    }
                    None => {
                        keywords.push(*keyword);
                        triggers.push(vec![index]);
                    }
                }
            }
        }
        // Case-insensitive keywords of the generic rule are lowercase; their upper- and
        // mixed-case spellings (`API_KEY`, `Token`) must hit too. Case-insensitive matching
        // of every keyword costs only extra verification on hits.
        let keywords = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&keywords)
            .map_err(|error| RedactError::Rule {
                kind: "keyword prefilter",
                source: Box::new(error),
            })?;
        Ok(Self {
            keywords,
            triggers,
            rules,
        })
    }

    /// The scanner compiled once per process and shared.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    pub fn standard() -> Result<&'static Self, RedactError> {
        static SCANNER: OnceLock<Option<Scanner>> = OnceLock::new();
        let scanner = SCANNER.get_or_init(|| Self::new().ok());
        match scanner {
            Some(scanner) => Ok(scanner),
            // Compile again for the error (the cached failure holds none).
            None => Self::new().and_then(|_| {
                Err(RedactError::Rule {
                    kind: "scanner",
                    source: "the rules did not compile".into(),
                })
            }),
        }
    }

    fn window(input: &[u8], window: Window, start: usize, end: usize) -> (usize, usize) {
        let line_start = |from: usize| {
            let floor = from.saturating_sub(BACK);
            input
                .get(floor..from)
                .and_then(|before| before.iter().rposition(|byte| *byte == b'\n'))
                .map_or(floor, |newline| floor + newline + 1)
        };
        let line_end = |from: usize| {
            let ceiling = from.saturating_add(FORWARD).min(input.len());
            input
                .get(from..ceiling)
                .and_then(|after| after.iter().position(|byte| *byte == b'\n'))
                .map_or(ceiling, |newline| from + newline)
        };
        match window {
            Window::FromKeyword => (start, line_end(end)),
            Window::AroundKeyword => (line_start(start), line_end(end)),
            Window::ToEnd => (start, input.len()),
        }
    }
}

impl Redactor for Scanner {
    fn rule_set(&self) -> RuleSetVersion {
        RuleSetVersion::of(RULE_SET)
    }

    fn find(&self, input: &[u8], findings: &mut Vec<Finding>) {
        // Per rule, the end of the last window searched: later hits inside it add nothing.
        let mut searched = [0usize; RULES.len()];
        let mut found: Vec<(usize, Finding)> = Vec::new();
        for hit in self.keywords.find_overlapping_iter(input) {
            let Some(rules) = self.triggers.get(hit.pattern().as_usize()) else {
                continue;
            };
            for &index in rules {
                let (Some(rule), Some(done)) = (self.rules.get(index), searched.get_mut(index))
                else {
                    continue;
                };
                let (from, to) = Self::window(input, rule.window, hit.start(), hit.end());
                if to <= *done {
                    continue;
                }
                let from = from.max(*done);
                *done = to;
                let Some(haystack) = input.get(..to) else {
                    continue;
                };
                let mut at = from;
                while at < to {
                    let Some(captures) = rule.regex.captures_at(haystack, at) else {
                        break;
                    };
                    let (Some(whole), secret) = (captures.get(0), captures.get(1)) else {
                        break;
                    };
                    let secret = secret.unwrap_or(whole);
                    let range = secret.start()..secret.end();
                    if let Some(bytes) = input.get(range.clone())
                        && passes(rule.check, bytes)
                    {
                        found.push((
                            index,
                            Finding {
                                kind: rule.kind,
                                range: range.clone(),
                            },
                        ));
                    }
                    // Continue inside this secret: a value may hold the name of the next
                    // assignment (`A_TOKEN=x…B_TOKEN: y…`), and if this candidate loses to an
                    // overlapping one of an earlier rule, the next must still be found now,
                    // not on a second pass (redaction is idempotent). Overlaps are resolved
                    // below.
                    at = range
                        .start
                        .saturating_add(1)
                        .max(whole.start().saturating_add(1));
                }
            }
        }
        resolve(input, found, findings);
    }
}

/// Keeps, of overlapping findings, the one of the earliest rule, and appends the kept ones to
/// `findings` in order.
///
/// A generic value that runs into a kept secret (`NAME=abc…xoxb-…`, the value class taking in
/// the token) is cut where that secret starts and kept if the cut value still passes: exactly
/// what a second pass would find once the secret is a marker, so redaction is idempotent.
fn resolve(input: &[u8], mut found: Vec<(usize, Finding)>, findings: &mut Vec<Finding>) {
    if found.is_empty() {
        return;
    }
    found.sort_by_key(|(rule, finding)| (*rule, finding.range.start));
    let mut kept: BTreeMap<usize, Finding> = BTreeMap::new();
    for (rule, mut finding) in found {
        let start = finding.range.start;
        let inside = kept
            .range(..=start)
            .next_back()
            .is_some_and(|(_, other)| other.range.end > start);
        if inside {
            continue;
        }
        if let Some((&next, _)) = kept.range(start..).next()
            && next < finding.range.end
        {
            let cuttable = RULES
                .get(rule)
                .is_some_and(|rule| matches!(rule.check, Check::HighEntropy));
            let cut = start..next;
            if !cuttable
                || !input
                    .get(cut.clone())
                    .is_some_and(|value| passes(Check::HighEntropy, value))
            {
                continue;
            }
            finding.range = cut;
        }
        kept.insert(start, finding);
    }
    findings.extend(kept.into_values());
}

/// Whether a matched secret passes its rule's check.
fn passes(check: Check, secret: &[u8]) -> bool {
    if PUBLISHED_EXAMPLES.contains(&secret) || contains(secret, b"EXAMPLE") {
        return false;
    }
    match check {
        Check::Format => true,
        Check::NotPlaceholder => !is_placeholder(secret),
        Check::HighEntropy => {
            (GENERIC_MIN_LEN..=GENERIC_MAX_LEN).contains(&secret.len())
                && secret.iter().any(u8::is_ascii_alphabetic)
                && secret.iter().any(u8::is_ascii_digit)
                && !is_placeholder(secret)
                && shannon_entropy(secret) >= GENERIC_MIN_ENTROPY
        }
        Check::NotPlaceholderPassword => !is_placeholder_password(secret),
    }
}

/// A token whose characters are too uniform to be random: `ghp_xxxxxxxx…`, `AKIA0000…`,
/// `sk-…` followed by one repeated or alternating pattern. Random base62 of 16 characters or
/// more has at least 10 distinct characters with overwhelming probability.
fn is_placeholder(secret: &[u8]) -> bool {
    let mut seen = [false; 256];
    let mut distinct = 0usize;
    for byte in secret {
        if let Some(slot) = seen.get_mut(usize::from(*byte))
            && !*slot
        {
            *slot = true;
            distinct += 1;
        }
    }
    distinct < 8
}

/// Passwords of documentation and templates: `password`, `pass`, `secret`, `changeme`,
/// `<password>`, `${DB_PASSWORD}`, `$PASS`, `{{ password }}`, `****`, `xxx`, `...`.
fn is_placeholder_password(password: &[u8]) -> bool {
    const WORDS: &[&[u8]] = &[
        b"password",
        b"passwd",
        b"pass",
        b"pwd",
        b"secret",
        b"changeme",
        b"pw",
        b"p",
        b"yourpassword",
        b"your_password",
        b"your-password",
        b"mypassword",
        b"my_password",
        b"redacted",
    ];
    let lower = password.to_ascii_lowercase();
    if WORDS.contains(&lower.as_slice()) {
        return true;
    }
    if let (Some(first), Some(last)) = (password.first(), password.last())
        && (matches!(first, b'<' | b'$' | b'{' | b'%' | b'[') || matches!(last, b'>' | b'}'))
    {
        return true;
    }
    password
        .iter()
        .all(|byte| matches!(byte, b'*' | b'x' | b'X' | b'.' | b'_' | b'-' | b'#'))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// Shannon entropy of `bytes`, in bits per byte: -Σ p·log2(p) over the byte frequencies.
#[must_use]
pub fn shannon_entropy(bytes: &[u8]) -> f64 {
    if bytes.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for byte in bytes {
        if let Some(count) = counts.get_mut(usize::from(*byte)) {
            *count += 1;
        }
    }
    // Values measured are at most 128 bytes; longer inputs saturate, which only lowers the
    // estimate's precision.
    let total = f64::from(u32::try_from(bytes.len()).unwrap_or(u32::MAX));
    counts
        .iter()
        .filter(|count| **count > 0)
        .map(|count| {
            let p = f64::from(*count) / total;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_compiles_and_every_kind_has_a_rule() {
        let scanner = Scanner::new().unwrap();
        assert_eq!(scanner.rules.len(), RULES.len());
        for kind in SecretKind::ALL {
            assert!(RULES.iter().any(|rule| rule.kind == kind), "{kind}");
        }
    }

    #[test]
    fn entropy_of_uniform_and_random_text() {
        assert!(shannon_entropy(b"aaaaaaaaaaaaaaaa") < 0.01);
        assert!((shannon_entropy(b"abcdefghijklmnop") - 4.0).abs() < 1e-9);
        assert!(shannon_entropy(b"1687a9a1af7a5325783099fc99aadf0a") >= GENERIC_MIN_ENTROPY);
        // Words fail the letter-and-digit test whatever their entropy.
        assert!(!passes(Check::HighEntropy, b"settings.SECRET_KEY"));
        assert!(passes(
            Check::HighEntropy,
            b"1687a9a1af7a5325783099fc99aadf0a"
        ));
    }

    #[test]
    fn windows_stay_on_the_keyword_line() {
        let input = b"first line\nkey token=abc\nlast";
        let at = 15;
        assert_eq!(
            Scanner::window(input, Window::AroundKeyword, at, at + 5),
            (11, 24)
        );
        assert_eq!(
            Scanner::window(input, Window::FromKeyword, at, at + 5),
            (15, 24)
        );
        assert_eq!(
            Scanner::window(input, Window::ToEnd, at, at + 5),
            (15, input.len())
        );
    }
}
