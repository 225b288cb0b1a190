//! The default scanner: one rule per published credential format, behind a keyword prefilter.

use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, packed};
use regex_automata::{
    Anchored,
    dfa::{Automaton, StartKind, dense},
    nfa::thompson,
    util::{primitives::StateID, start, syntax},
};

use crate::{Finding, RedactError, Redactor, Rescan, RuleSetVersion, SecretKind};

#[cfg(test)]
mod reference;

/// Shannon entropy, in bits per byte, that a value assigned to a secret-ish name must reach to
/// be redacted as a [`SecretKind::GenericSecret`]. The value must also be at least 16 bytes
/// long and hold both a letter and a digit.
///
/// 3.0 bits: random hex of 16 digits or more reaches it with high probability (a 32-digit hex
/// key about 3.6), random base62 or base64 of 16 characters or more about 3.7 to 5, while
/// names, paths and words assigned to such a name (`settings.SECRET_KEY`, `get_password()`,
/// `xxxxxxxx…`) stay below it or fail the letter-and-digit test. The name gate (`secret`,
/// `token`, `password`, `api_key`, ...) is what keeps the threshold this low precise.
pub const GENERIC_MIN_ENTROPY: f64 = 3.0;

/// The shortest generic value redacted.
const GENERIC_MIN_LEN: usize = 16;

/// Bytes a match may reach past its keyword on the keyword's line; no single-line secret format
/// is longer.
const FORWARD: usize = 4096;

/// The published example keys of provider documentation. They are format-valid, appear in
/// countless tutorials and prompts about them, and grant nothing; redacting them would only
/// hide what a prompt was about, so they are left as written.
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

/// What must hold just before a rule's keyword.
#[derive(Clone, Copy)]
enum Before {
    /// Nothing.
    Anything,
    /// A word boundary: the keyword does not continue a word (`\b` of the format).
    WordBoundary,
    /// A URL scheme's last character (a letter, digit, `+`, `.` or `-`) before `://`.
    Scheme,
}

/// How far a match may run from its keyword.
#[derive(Clone, Copy)]
enum Reach {
    /// To the end of the keyword's line.
    Line,
    /// To the end of the body (key blocks, whose END line may be missing).
    End,
}

/// A cheap test of the bytes after a keyword that every match passes, run before the pattern:
/// most keywords in prose (`the access token expires`, `https://docs…`) end here.
#[derive(Clone, Copy)]
enum Precheck {
    /// None: the pattern's literal start already was the keyword.
    Nothing,
    /// An assignment follows: name characters, an optional quote, blanks, then `:` or `=`.
    Assignment,
    /// A URL's userinfo follows `://`: an `@` before any blank or `/`, after a `:`.
    Userinfo,
}

impl Precheck {
    fn holds(self, rest: &[u8]) -> bool {
        match self {
            Self::Nothing => true,
            Self::Assignment => {
                let mut bytes = rest.iter().skip_while(|byte| {
                    byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b'-')
                });
                let mut next = bytes.next();
                if matches!(next, Some(b'"' | b'\'')) {
                    next = bytes.next();
                }
                while matches!(next, Some(b' ' | b'\t')) {
                    next = bytes.next();
                }
                matches!(next, Some(b':' | b'='))
            }
            Self::Userinfo => {
                let mut colon = false;
                for byte in rest.iter().skip(3) {
                    match byte {
                        b'@' => return colon,
                        b':' => colon = true,
                        b'/' | b' ' | b'\t' | b'\n' | b'\r' => return false,
                        _ => {}
                    }
                }
                false
            }
        }
    }
}

/// What a match must also satisfy beyond its pattern.
#[derive(Clone, Copy)]
enum Check {
    /// The pattern is the whole format.
    Format,
    /// A provider token: not a placeholder (`xxxx…`, `0000…`).
    NotPlaceholder,
    /// A generic assignment: entropy, length and character mix (see [`GENERIC_MIN_ENTROPY`]).
    HighEntropy,
    /// A URL password: not a placeholder word or template variable.
    NotPlaceholderPassword,
}

/// One rule: a format, anchored at one of its keywords, and its checks. The secret is capture
/// group 1 if the pattern has one, else the whole match.
struct Rule {
    kind: SecretKind,
    /// Where the pattern starts (exact bytes; case variants listed where names vary in case).
    keywords: &'static [&'static str],
    before: Before,
    reach: Reach,
    /// Anchored at the keyword (`\A`); `(?-u)` everywhere: bytes, ASCII classes, so a body that
    /// is not UTF-8 is scanned like any other.
    pattern: &'static str,
    /// Which part of the match is the secret.
    secret: Secret,
    /// What the byte after the match must not be (for exact-length formats).
    after: After,
    check: Check,
    precheck: Precheck,
}

/// Which part of a match is the secret: the patterns have no capture groups, because a
/// capturing search costs several times a plain one (the part is found by hand instead).
#[derive(Clone, Copy)]
enum Secret {
    /// The whole match.
    Whole,
    /// After the name, an optional quote, blanks, the separator (`:=`, `=>`, `=`, `:`), blanks
    /// and an optional quote: the value of an assignment.
    AfterSeparator,
    /// Between the `:` after `://user` and the final `@host` byte pair: a URL's password.
    UrlPassword,
}

/// What the byte after a match must not be.
#[derive(Clone, Copy)]
enum After {
    /// Anything may follow (the pattern's last repetition is greedy and unbounded).
    Anything,
    /// Not a byte of the format's alphabet (an exact-length format inside a longer run is not
    /// that format).
    NotIn(fn(u8) -> bool),
}

const fn is_base64(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'/' | b'=')
}

const fn is_url_safe(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-')
}

/// Case variants of the generic rule's name keywords: `lower`, `UPPER`, `Capitalized`, and the
/// camelCase tails (`apiKey`, `accessKey`). A name in another mix of cases (`tOkEn`) is not
/// caught; its value must then match a provider's format to be redacted.
const GENERIC_KEYWORDS: &[&str] = &[
    "secret",
    "SECRET",
    "Secret",
    "token",
    "TOKEN",
    "Token",
    "passw",
    "PASSW",
    "Passw",
    "pwd",
    "PWD",
    "api_key",
    "API_KEY",
    "api-key",
    "API-KEY",
    "apikey",
    "APIKEY",
    "apiKey",
    "ApiKey",
    "access_key",
    "ACCESS_KEY",
    "accessKey",
    "AccessKey",
    "auth_key",
    "AUTH_KEY",
    "authKey",
    "credential",
    "CREDENTIAL",
    "Credential",
    "private_key",
    "PRIVATE_KEY",
    "privateKey",
    "PrivateKey",
];

/// The rules, each from its provider's published format. Order is priority: where matches of
/// two rules overlap, the earlier rule's match is kept (a `ghp_` token assigned to `TOKEN=` is
/// a GitHub token, not a generic secret).
const RULES: &[Rule] = &[
    Rule {
        // -----BEGIN [RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP ]PRIVATE KEY[ BLOCK]----- (RFC 7468,
        // OpenSSH PROTOCOL.key, RFC 4880); an unterminated block runs to the end.
        kind: SecretKind::PrivateKey,
        keywords: &["-----BEGIN"],
        before: Before::Anything,
        reach: Reach::End,
        pattern: r"(?-u)\A-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----(?s:.*?)(?:-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----|\z)",
        secret: Secret::Whole,
        after: After::Anything,
        check: Check::Format,
        precheck: Precheck::Nothing,
    },
    Rule {
        // AWS IAM identifiers: AKIA (long-term) and ASIA (STS temporary) then 16 base32.
        kind: SecretKind::AwsAccessKeyId,
        keywords: &["AKIA", "ASIA"],
        before: Before::WordBoundary,
        reach: Reach::Line,
        pattern: r"(?-u)\A(?:AKIA|ASIA)[A-Z2-7]{16}\b",
        secret: Secret::Whole,
        after: After::Anything,
        check: Check::NotPlaceholder,
        precheck: Precheck::Nothing,
    },
    Rule {
        // 40 base64 characters named as an AWS secret (aws_secret_access_key, AWS_SECRET_KEY).
        kind: SecretKind::AwsSecretAccessKey,
        keywords: &["aws", "AWS", "Aws"],
        before: Before::Anything,
        reach: Reach::Line,
        pattern: r#"(?-u)\A(?i:aws)[A-Za-z0-9_.\-]{0,24}(?i:secret)[A-Za-z0-9_.\-]{0,24}["']?[ \t]*(?::=|=>|=|:)[ \t]*["']?[A-Za-z0-9/+]{40}"#,
        secret: Secret::AfterSeparator,
        after: After::NotIn(is_base64),
        check: Check::NotPlaceholder,
        precheck: Precheck::Assignment,
    },
    Rule {
        // Google Cloud API keys: AIza then 35 of [0-9A-Za-z_-].
        kind: SecretKind::GoogleApiKey,
        keywords: &["AIza"],
        before: Before::WordBoundary,
        reach: Reach::Line,
        pattern: r"(?-u)\AAIza[0-9A-Za-z_\-]{35}",
        secret: Secret::Whole,
        after: After::NotIn(is_url_safe),
        check: Check::NotPlaceholder,
        precheck: Precheck::Nothing,
    },
    Rule {
        // GitHub fine-grained PATs: github_pat_, 22 base62, `_`, 59 base62.
        kind: SecretKind::GithubFineGrainedToken,
        keywords: &["github_pat_"],
        before: Before::WordBoundary,
        reach: Reach::Line,
        pattern: r"(?-u)\Agithub_pat_[0-9A-Za-z]{22}_[0-9A-Za-z]{59}\b",
        secret: Secret::Whole,
        after: After::Anything,
        check: Check::NotPlaceholder,
        precheck: Precheck::Nothing,
    },
    Rule {
        // GitHub classic tokens ("Behind GitHub's new authentication token formats", 2021):
        // ghp_ (personal), gho_ (OAuth), ghu_ (user-to-server), ghs_ (server-to-server),
        // ghr_ (refresh), then 36 base62 (30 random, 6 checksum).
        kind: SecretKind::GithubToken,
        keywords: &["ghp_", "gho_", "ghu_", "ghs_", "ghr_"],
        before: Before::WordBoundary,
        reach: Reach::Line,
        pattern: r"(?-u)\Agh[pousr]_[0-9A-Za-z]{36}\b",
        secret: Secret::Whole,
        after: After::Anything,
        check: Check::NotPlaceholder,
        precheck: Precheck::Nothing,
    },
    Rule {
        // GitLab personal access tokens: glpat- then 20 characters (legacy), or the routable
        // form with a longer payload and a `.01.` version and checksum suffix.
        kind: SecretKind::GitlabToken,
        keywords: &["glpat-"],
        before: Before::WordBoundary,
        reach: Reach::Line,
        pattern: r"(?-u)\Aglpat-[0-9A-Za-z_\-]{20,}(?:\.[0-9a-z]{2}\.[0-9a-z]{7,9})?",
        secret: Secret::Whole,
        after: After::Anything,
        check: Check::NotPlaceholder,
        precheck: Precheck::Nothing,
    },
    Rule {
        // Anthropic API keys: sk-ant-api03- (and admin keys sk-ant-admin01-), then about 95
        // characters of [A-Za-z0-9_-].
        kind: SecretKind::AnthropicKey,
        keywords: &["sk-"],
        before: Before::WordBoundary,
        reach: Reach::Line,
        pattern: r"(?-u)\Ask-ant-[a-z]+[0-9]{2}-[0-9A-Za-z_\-]{80,}",
        secret: Secret::Whole,
        after: After::Anything,
        check: Check::NotPlaceholder,
        precheck: Precheck::Nothing,
    },
    Rule {
        // OpenAI project keys: sk-proj- then at least 40 of [A-Za-z0-9_-] (about 156 today);
        // service-account (sk-svcacct-) and admin (sk-admin-) keys share the form.
        kind: SecretKind::OpenAiProjectKey,
        keywords: &["sk-"],
        before: Before::WordBoundary,
        reach: Reach::Line,
        pattern: r"(?-u)\Ask-(?:proj|svcacct|admin)-[0-9A-Za-z_\-]{40,}",
        secret: Secret::Whole,
        after: After::Anything,
        check: Check::NotPlaceholder,
        precheck: Precheck::Nothing,
    },
    Rule {
        // OpenAI legacy user keys: sk- then 48 base62, the middle often `T3BlbkFJ` ("OpenAI"
        // in base64).
        kind: SecretKind::OpenAiKey,
        keywords: &["sk-"],
        before: Before::WordBoundary,
        reach: Reach::Line,
        pattern: r"(?-u)\Ask-[0-9A-Za-z]{48}\b",
        secret: Secret::Whole,
        after: After::Anything,
        check: Check::NotPlaceholder,
        precheck: Precheck::Nothing,
    },
    Rule {
        // Hugging Face user access tokens: hf_ then 34 letters (base62 in newer tokens).
        kind: SecretKind::HuggingFaceToken,
        keywords: &["hf_"],
        before: Before::WordBoundary,
        reach: Reach::Line,
        pattern: r"(?-u)\Ahf_[0-9A-Za-z]{34}\b",
        secret: Secret::Whole,
        after: After::Anything,
        check: Check::NotPlaceholder,
        precheck: Precheck::Nothing,
    },
    Rule {
        // Stripe live secret and restricted keys: sk_live_ / rk_live_ then 24 to 247 base62.
        // Test-mode keys (sk_test_) reach no money and appear in Stripe's own docs.
        kind: SecretKind::StripeKey,
        keywords: &["sk_live_", "rk_live_"],
        before: Before::WordBoundary,
        reach: Reach::Line,
        pattern: r"(?-u)\A[rs]k_live_[0-9A-Za-z]{24,}\b",
        secret: Secret::Whole,
        after: After::Anything,
        check: Check::NotPlaceholder,
        precheck: Precheck::Nothing,
    },
    Rule {
        // Slack tokens: xoxb- (bot), xoxa- (app), xoxp- (user), xoxr- (refresh), xoxs-
        // (session): numeric team/user ids, then the secret part.
        kind: SecretKind::SlackToken,
        keywords: &["xoxb-", "xoxa-", "xoxp-", "xoxr-", "xoxs-"],
        before: Before::WordBoundary,
        reach: Reach::Line,
        pattern: r"(?-u)\Axox[abprs]-[0-9]{6,}-[0-9A-Za-z\-]{8,}\b",
        secret: Secret::Whole,
        after: After::Anything,
        check: Check::NotPlaceholder,
        precheck: Precheck::Nothing,
    },
    Rule {
        // SendGrid API keys: SG. then a 22-character id, `.`, and a 43-character secret.
        kind: SecretKind::SendgridKey,
        keywords: &["SG."],
        before: Before::WordBoundary,
        reach: Reach::Line,
        pattern: r"(?-u)\ASG\.[0-9A-Za-z_\-]{22}\.[0-9A-Za-z_\-]{43}",
        secret: Secret::Whole,
        after: After::NotIn(is_url_safe),
        check: Check::NotPlaceholder,
        precheck: Precheck::Nothing,
    },
    Rule {
        // npm access tokens (2021 format): npm_ then 36 base62 (30 random, 6 checksum).
        kind: SecretKind::NpmToken,
        keywords: &["npm_"],
        before: Before::WordBoundary,
        reach: Reach::Line,
        pattern: r"(?-u)\Anpm_[0-9A-Za-z]{36}\b",
        secret: Secret::Whole,
        after: After::Anything,
        check: Check::NotPlaceholder,
        precheck: Precheck::Nothing,
    },
    Rule {
        // PyPI API tokens: pypi- then a macaroon whose base64 starts with the encoding of its
        // location, `pypi.org`.
        kind: SecretKind::PypiToken,
        keywords: &["pypi-AgEIcHlwaS5vcmc"],
        before: Before::WordBoundary,
        reach: Reach::Line,
        pattern: r"(?-u)\Apypi-AgEIcHlwaS5vcmc[0-9A-Za-z_\-]{50,}",
        secret: Secret::Whole,
        after: After::Anything,
        check: Check::Format,
        precheck: Precheck::Nothing,
    },
    Rule {
        // JWS compact serialization (RFC 7515) of a JWT: base64url JSON header `{"` (eyJ),
        // payload `{"`, and a signature; unsigned tokens (alg none) carry no secret.
        kind: SecretKind::Jwt,
        keywords: &["eyJ"],
        before: Before::WordBoundary,
        reach: Reach::Line,
        pattern: r"(?-u)\AeyJ[0-9A-Za-z_\-]{8,}\.eyJ[0-9A-Za-z_\-]{8,}\.[0-9A-Za-z_\-]{16,}",
        secret: Secret::Whole,
        after: After::Anything,
        check: Check::Format,
        precheck: Precheck::Nothing,
    },
    Rule {
        // RFC 3986 userinfo with a password: scheme://user:password@host. Only the password is
        // replaced, so the steward still sees which database and user were meant. Brackets
        // are gen-delims, never in userinfo: so a password never spans a marker, and a span
        // too long to be one before a secret inside it was redacted stays unredacted after
        // (redaction is idempotent; found by the fuzz target `redact`).
        kind: SecretKind::UrlPassword,
        keywords: &["://"],
        before: Before::Scheme,
        reach: Reach::Line,
        pattern: r"(?-u)\A://[^\s:@/\[\]]{1,128}:[^\s@/\[\]]{1,256}@[^\s@/]",
        secret: Secret::UrlPassword,
        after: After::Anything,
        check: Check::NotPlaceholderPassword,
        precheck: Precheck::Userinfo,
    },
    Rule {
        // name = value, name: value, NAME=value, "name": "value", for names that say secret;
        // anchored at the name's keyword (the name may start before it).
        kind: SecretKind::GenericSecret,
        keywords: GENERIC_KEYWORDS,
        before: Before::Anything,
        reach: Reach::Line,
        pattern: r#"(?-u)\A(?i:secret|token|passw(?:or)?d|pwd|api[_\-]?key|access[_\-]?key|auth[_\-]?key|credentials?|private[_\-]?key)[A-Za-z0-9_.\-]*["']?[ \t]*(?::=|=>|=|:)[ \t]*["']?[A-Za-z0-9+/_\-.=~]{16,}"#,
        secret: Secret::AfterSeparator,
        after: After::Anything,
        check: Check::HighEntropy,
        precheck: Precheck::Assignment,
    },
];

/// The order in which the keywords are given to Teddy, which puts them into its 16 buckets by
/// that order. Keywords whose first three bytes share nibbles with many others in a bucket make
/// text that is not a keyword match the bucket's fingerprint, and each such false candidate
/// costs a verification. This order was found by a local search minimising those candidates
/// over the repository's prose and code (`scripts/teddy-order.py` in this crate): a sixth of
/// the candidates and a tenth of the verifications of the rules' own order, and about as much
/// less on text it was not tuned on (docs/benchmarks.md). It changes no hit (no keyword starts
/// another, so at most one matches at a position); a keyword missing here is added after
/// these.
const TEDDY_ORDER: &[&str] = &[
    "://",
    "API_KEY",
    "xoxp-",
    "aws",
    "SG.",
    "Passw",
    "PrivateKey",
    "sk_live_",
    "ghu_",
    "gho_",
    "xoxb-",
    "CREDENTIAL",
    "ghr_",
    "passw",
    "ACCESS_KEY",
    "Token",
    "github_pat_",
    "API-KEY",
    "AIza",
    "apiKey",
    "xoxs-",
    "xoxr-",
    "APIKEY",
    "sk-",
    "hf_",
    "npm_",
    "authKey",
    "token",
    "ghs_",
    "SECRET",
    "Secret",
    "privateKey",
    "TOKEN",
    "PASSW",
    "eyJ",
    "AKIA",
    "PWD",
    "Credential",
    "ASIA",
    "-----BEGIN",
    "rk_live_",
    "Aws",
    "secret",
    "apikey",
    "ghp_",
    "xoxa-",
    "ApiKey",
    "access_key",
    "AWS",
    "accessKey",
    "AccessKey",
    "auth_key",
    "AUTH_KEY",
    "pypi-AgEIcHlwaS5vcmc",
    "credential",
    "api-key",
    "pwd",
    "private_key",
    "PRIVATE_KEY",
    "api_key",
    "glpat-",
];

/// The rule set's version: 1 is the rules above. Changing what a rule catches is a new version,
/// so a record's header says which rules it was scanned with.
const RULE_SET: u8 = 1;

/// A compiled rule.
struct Compiled {
    kind: SecretKind,
    /// The pattern as a dense DFA that only searches anchored: shared by every thread, with
    /// no cache.
    dfa: dense::DFA<Vec<u32>>,
    /// Its state at the start of a haystack (every search starts at one: a keyword's line).
    start: StateID,
    precheck: Precheck,
    secret: Secret,
    after: After,
    before: Before,
    reach: Reach,
    check: Check,
}

/// The default [`Redactor`]: the rules of [`SecretKind`], from each provider's published
/// format, behind an Aho-Corasick keyword prefilter.
///
/// A body is searched once for every rule's keywords (`AKIA`, `ghp_`, `-----BEGIN`, `://`,
/// `token`, ...), as exact bytes (the prefilter's fastest mode); each rule's pattern is
/// anchored at its keyword, so a hit costs one anchored match on the rest of its line. Text
/// without any keyword costs one prefilter pass.
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
    keywords: Keywords,
    /// Per keyword pattern id, the rules it triggers.
    triggers: Vec<Vec<usize>>,
    rules: Vec<Compiled>,
    /// Whether the last rule is the generic assignment, whose hits are evaluated after the
    /// provider rules' findings are resolved (so that a value a provider caught is skipped).
    generic_last: bool,
}

impl Scanner {
    /// Compiles the rules.
    ///
    /// # Errors
    ///
    /// [`RedactError::Rule`] if a rule does not compile (a bug of this crate, reported).
    pub fn new() -> Result<Self, RedactError> {
        Self::with_keywords(Keywords::new)
    }

    /// Compiles the rules, with `search` to search for their keywords.
    fn with_keywords(
        search: fn(&[&str]) -> Result<Keywords, RedactError>,
    ) -> Result<Self, RedactError> {
        // Every rule's keywords, in Teddy's order first (see `TEDDY_ORDER`).
        let mut keywords: Vec<&'static str> = Vec::new();
        for keyword in TEDDY_ORDER
            .iter()
            .chain(RULES.iter().flat_map(|rule| rule.keywords.iter()))
        {
            let used = RULES.iter().any(|rule| rule.keywords.contains(keyword));
            if used && !keywords.contains(keyword) {
                keywords.push(keyword);
            }
        }
        let mut triggers: Vec<Vec<usize>> = vec![Vec::new(); keywords.len()];
        let mut rules = Vec::with_capacity(RULES.len());
        for (index, rule) in RULES.iter().enumerate() {
            let error = |source| RedactError::Rule {
                kind: rule.kind.as_str(),
                source,
            };
            let dfa = compile(rule.pattern).map_err(error)?;
            let start = dfa
                .start_state(&start::Config::new().anchored(Anchored::Yes))
                .map_err(|start| error(Box::new(start)))?;
            rules.push(Compiled {
                kind: rule.kind,
                dfa,
                start,
                precheck: rule.precheck,
                secret: rule.secret,
                after: rule.after,
                before: rule.before,
                reach: rule.reach,
                check: rule.check,
            });
            for keyword in rule.keywords {
                if let Some(list) = keywords
                    .iter()
                    .position(|known| known == keyword)
                    .and_then(|id| triggers.get_mut(id))
                {
                    list.push(index);
                }
            }
        }
        let keywords = search(&keywords)?;
        let generic_last = RULES.last().is_some_and(|rule| {
            matches!(rule.check, Check::HighEntropy) && matches!(rule.reach, Reach::Line)
        });
        Ok(Self {
            keywords,
            triggers,
            rules,
            generic_last,
        })
    }

    /// The scanner compiled once per process and shared. The first call builds it (its
    /// rules' DFAs: tens of milliseconds); a service calls it at start-up so that its first
    /// request does not wait for that (steward-store's `Ingest` does so on its writer thread).
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
}

/// The search for the rules' keywords: exact bytes, leftmost-first, hits not overlapping. No
/// keyword starts another (tested), so at most one matches at a position and the hits do not
/// depend on the keywords' order.
enum Keywords {
    /// Teddy (SIMD), used alone: its hits are exact, and `AhoCorasick` would only add an
    /// automaton's bookkeeping around the same prefilter (a quarter of the search's time on
    /// keyword-heavy text).
    Packed(packed::Searcher),
    /// An Aho-Corasick automaton, where the CPU has no Teddy for this many keywords.
    Automaton(AhoCorasick),
}

impl Keywords {
    /// Teddy if this CPU has it, else the automaton.
    fn new(keywords: &[&str]) -> Result<Self, RedactError> {
        packed::Config::new()
            .match_kind(packed::MatchKind::LeftmostFirst)
            .builder()
            .extend(keywords)
            .build()
            .map_or_else(
                || Self::automaton(keywords),
                |searcher| Ok(Self::Packed(searcher)),
            )
    }

    fn automaton(keywords: &[&str]) -> Result<Self, RedactError> {
        AhoCorasickBuilder::new()
            .match_kind(aho_corasick::MatchKind::LeftmostFirst)
            .build(keywords)
            .map(Self::Automaton)
            .map_err(|error| RedactError::Rule {
                kind: "keyword search",
                source: Box::new(error),
            })
    }
}

/// A rule's pattern as `regex::bytes::Regex` reads it (bytes, not UTF-8 text; leftmost-first),
/// compiled to a dense DFA for anchored searches.
fn compile(
    pattern: &str,
) -> Result<dense::DFA<Vec<u32>>, Box<dyn std::error::Error + Send + Sync>> {
    let dfa = dense::Builder::new()
        .configure(
            dense::DFA::config()
                .match_kind(regex_automata::MatchKind::LeftmostFirst)
                .start_kind(StartKind::Anchored),
        )
        .syntax(syntax::Config::new().utf8(false))
        .thompson(thompson::Config::new().utf8(false))
        .build(pattern)?;
    Ok(dfa)
}

/// The end of the line a keyword is on, found once per line however many keywords it holds.
struct Lines<'a> {
    input: &'a [u8],
    /// Where the newline (or the end) after the last asked position is.
    end: usize,
    /// Whether `end` is known for positions up to it.
    known: bool,
}

impl<'a> Lines<'a> {
    const fn new(input: &'a [u8]) -> Self {
        Self {
            input,
            end: 0,
            known: false,
        }
    }

    /// Where a match from a keyword at `start` may end.
    fn reach(&mut self, reach: Reach, start: usize) -> usize {
        match reach {
            Reach::End => self.input.len(),
            Reach::Line => {
                if !self.known || start > self.end {
                    self.end = self
                        .input
                        .get(start..)
                        .and_then(|rest| memchr::memchr(b'\n', rest))
                        .map_or(self.input.len(), |newline| start + newline);
                    self.known = true;
                }
                self.end.min(start.saturating_add(FORWARD))
            }
        }
    }
}

impl Secret {
    /// Where the secret is in `matched` (a whole match, from its keyword).
    fn within(self, matched: &[u8]) -> Option<std::ops::Range<usize>> {
        match self {
            Self::Whole => Some(0..matched.len()),
            Self::AfterSeparator => {
                // Mirrors the patterns: name, quote, blanks, separator, blanks, quote.
                let blank = |byte: &u8| matches!(byte, b' ' | b'\t');
                let name =
                    |byte: &u8| byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b'-');
                let mut at = matched.iter().position(|byte| !name(byte))?;
                let skip = |at: usize, what: &dyn Fn(&u8) -> bool| {
                    at + matched
                        .get(at..)
                        .map_or(0, |rest| rest.iter().take_while(|byte| what(byte)).count())
                };
                if matches!(matched.get(at), Some(b'"' | b'\'')) {
                    at += 1;
                }
                at = skip(at, &blank);
                at += match (matched.get(at), matched.get(at + 1)) {
                    (Some(b':'), Some(b'=')) | (Some(b'='), Some(b'>')) => 2,
                    (Some(b'=' | b':'), _) => 1,
                    _ => return None,
                };
                at = skip(at, &blank);
                if matches!(matched.get(at), Some(b'"' | b'\'')) {
                    at += 1;
                }
                (at < matched.len()).then_some(at..matched.len())
            }
            Self::UrlPassword => {
                // `://` user `:` password `@` and one host byte.
                let colon = matched.get(3..)?.iter().position(|byte| *byte == b':')? + 3;
                let end = matched.len().checked_sub(2)?;
                (colon + 1 < end).then_some(colon + 1..end)
            }
        }
    }
}

/// Whether `byte` is a word character of `\b` (ASCII letters, digits, `_`).
const fn is_word(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

impl Before {
    fn holds(self, input: &[u8], start: usize) -> bool {
        let previous = start.checked_sub(1).and_then(|at| input.get(at)).copied();
        match self {
            Self::Anything => true,
            Self::WordBoundary => !previous.is_some_and(is_word),
            Self::Scheme => previous.is_some_and(|byte| {
                byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'.' | b'-')
            }),
        }
    }
}

impl Redactor for Scanner {
    fn rule_set(&self) -> RuleSetVersion {
        RuleSetVersion::of(RULE_SET)
    }

    fn find(&self, input: &[u8], findings: &mut Vec<Finding>) {
        self.find_settling(input, findings);
    }

    fn find_settling(&self, input: &[u8], findings: &mut Vec<Finding>) -> Rescan {
        match &self.keywords {
            Keywords::Packed(searcher) => {
                let hits = searcher.find_iter(input);
                self.find_at(
                    input,
                    hits.map(|hit| (hit.pattern().as_usize(), hit.start())),
                    findings,
                )
            }
            Keywords::Automaton(automaton) => {
                let hits = automaton.find_iter(input);
                self.find_at(
                    input,
                    hits.map(|hit| (hit.pattern().as_usize(), hit.start())),
                    findings,
                )
            }
        }
    }
}

impl Scanner {
    /// The findings of the rules at keyword `hits` (keyword id and position, in order of
    /// position, not overlapping), resolved, appended to `findings`; whether they are settled.
    fn find_at(
        &self,
        input: &[u8],
        hits: impl Iterator<Item = (usize, usize)>,
        findings: &mut Vec<Finding>,
    ) -> Rescan {
        // Per rule that reaches to the end, where its last match ended: a hit inside it is
        // part of that block (several BEGIN lines without END lines cost one pass each).
        let mut covered = [0usize; RULES.len()];
        let mut found: Vec<(usize, Finding)> = Vec::new();
        // Hits of the last rule (the generic assignment), evaluated once the provider rules'
        // findings are resolved: see `Resolver::covers`.
        let mut deferred: Vec<usize> = Vec::new();
        let last = self.rules.len().saturating_sub(1);
        let mut lines = Lines::new(input);
        for (keyword, start) in hits {
            let Some(rules) = self.triggers.get(keyword) else {
                continue;
            };
            for &index in rules {
                let (Some(rule), Some(covered)) = (self.rules.get(index), covered.get_mut(index))
                else {
                    continue;
                };
                if start < *covered || !rule.before.holds(input, start) {
                    continue;
                }
                if index == last && self.generic_last {
                    if deferred.last() != Some(&start) {
                        deferred.push(start);
                    }
                    continue;
                }
                if let Some(finding) = rule.evaluate(input, start, &mut lines, covered) {
                    found.push((index, finding));
                }
            }
        }
        let mut resolver = Resolver::new(input);
        resolver.offer_providers(found);
        if let Some(generic) = self.rules.get(last)
            && !deferred.is_empty()
        {
            let mut lines = Lines::new(input);
            let mut unused = 0;
            resolver.begin_rule();
            for start in deferred {
                // A value that starts inside a provider's secret would be dropped as inside
                // it: its pattern, entropy and fingerprint need not run (`NAME=ghp_…`).
                if !resolver.is_empty() {
                    let value = input
                        .get(start..lines.reach(generic.reach, start))
                        .and_then(|line| generic.secret.within(line));
                    if value.is_some_and(|value| resolver.covers(start + value.start)) {
                        continue;
                    }
                }
                if let Some(finding) = generic.evaluate(input, start, &mut lines, &mut unused) {
                    resolver.offer(last, finding);
                }
            }
            resolver.end_rule();
        }
        resolver.finish(findings)
    }
}

impl Compiled {
    /// Where the rule's leftmost-first match anchored at the start of `haystack` ends, as
    /// `regex::bytes::Regex::find` reports it for the pattern (which says `\A`).
    ///
    /// The DFA walked by hand rather than with `Automaton::try_search_fwd`: that loop leaves
    /// its fast path at every match state, and the patterns' unbounded tails
    /// (`[0-9A-Za-z_\-]{40,}`) make every byte of a long token one. A DFA reports a match
    /// one byte late (at the state after the byte that follows it), and at the end of the
    /// haystack through its end-of-input transition. It never quits: no quit byte is
    /// configured, and the patterns need none (their word boundaries are ASCII).
    fn match_end(&self, haystack: &[u8]) -> Option<usize> {
        let dfa = &self.dfa;
        let mut state = self.start;
        let mut end = None;
        for (at, byte) in haystack.iter().enumerate() {
            state = dfa.next_state(state, *byte);
            if dfa.is_special_state(state) {
                if dfa.is_match_state(state) {
                    end = Some(at);
                } else if dfa.is_dead_state(state) {
                    return end;
                }
            }
        }
        state = dfa.next_eoi_state(state);
        if dfa.is_match_state(state) {
            end = Some(haystack.len());
        }
        end
    }

    /// The finding of this rule at a keyword at `start` (its `before` already holds), if its
    /// precheck, pattern, `after` and check pass. `covered` is where a match that reaches to
    /// the end of the body ended.
    fn evaluate(
        &self,
        input: &[u8],
        start: usize,
        lines: &mut Lines<'_>,
        covered: &mut usize,
    ) -> Option<Finding> {
        let end = lines.reach(self.reach, start);
        let haystack = input.get(start..end)?;
        if !self.precheck.holds(haystack) {
            return None;
        }
        let end = self.match_end(haystack)?;
        if let After::NotIn(alphabet) = self.after
            && haystack.get(end).is_some_and(|byte| alphabet(*byte))
        {
            return None;
        }
        let matched = haystack.get(..end)?;
        let secret = self.secret.within(matched)?;
        let range = start + secret.start..start + secret.end;
        if matches!(self.reach, Reach::End) {
            *covered = start + end;
        }
        input
            .get(range.clone())
            .filter(|bytes| passes(self.check, bytes))
            .map(|_| Finding {
                kind: self.kind,
                range,
            })
    }
}

/// Keeps, of overlapping findings offered in order of rule then position, the one of the
/// earliest rule, and appends the kept ones to `findings` in order.
///
/// A generic value that runs into a kept secret (`NAME=abc…xoxb-…`, the value class taking in
/// the token) is cut where that secret starts and kept if the cut value still passes: exactly
/// what a second pass would find once the secret is a marker, so redaction is idempotent.
///
/// [`finish`](Self::finish) says whether the result is settled: a second pass over the
/// redacted body could find nothing more. It could only where a dropped candidate started
/// before the secret it lost to (its start survives the marker), or where a secret touches a
/// byte that can continue a token (a neighbour's format or word boundary failed on the
/// secret's bytes, and passes against the marker's brackets).
///
/// The kept findings are a vector in order of position: a rule's offers (in order of position)
/// are merged into it in one pass, between [`begin_rule`](Self::begin_rule) and
/// [`end_rule`](Self::end_rule).
struct Resolver<'a> {
    input: &'a [u8],
    /// The findings kept, in order of position, not overlapping. During a rule's offers: those
    /// merged so far (every one that starts at or before the last offer).
    kept: Vec<Finding>,
    /// During a rule's offers: the findings kept before them, of which those from `next` on
    /// are not merged into `kept` yet.
    before: Vec<Finding>,
    next: usize,
    rescan: Rescan,
}

impl<'a> Resolver<'a> {
    const fn new(input: &'a [u8]) -> Self {
        Self {
            input,
            kept: Vec::new(),
            before: Vec::new(),
            next: 0,
            rescan: Rescan::NotNeeded,
        }
    }

    /// Offers the findings of the provider rules, `(rule, finding)` in the order found; first,
    /// before any other offer.
    fn offer_providers(&mut self, mut found: Vec<(usize, Finding)>) {
        // Findings apart from each other are all kept, in whatever order they are offered:
        // none covers or runs into another (the common case, found in one pass).
        let apart = found
            .windows(2)
            .all(|pair| matches!(pair, [(_, a), (_, b)] if a.range.end <= b.range.start));
        if apart && self.kept.is_empty() {
            self.kept
                .extend(found.into_iter().map(|(_, finding)| finding));
            return;
        }
        found.sort_by_key(|(rule, finding)| (*rule, finding.range.start));
        let mut found = found.into_iter().peekable();
        while let Some((rule, finding)) = found.next() {
            self.begin_rule();
            self.offer(rule, finding);
            while let Some((_, finding)) = found.next_if(|(next, _)| *next == rule) {
                self.offer(rule, finding);
            }
            self.end_rule();
        }
    }

    /// Whether nothing is kept (nothing covers anything).
    const fn is_empty(&self) -> bool {
        self.kept.is_empty() && self.before.is_empty()
    }

    /// Starts the offers of one rule.
    fn begin_rule(&mut self) {
        std::mem::swap(&mut self.kept, &mut self.before);
        self.kept.clear();
        self.next = 0;
    }

    /// Ends the offers of one rule: the findings kept before them that follow the last offer
    /// join the merged ones.
    fn end_rule(&mut self) {
        self.kept
            .extend_from_slice(self.before.get(self.next..).unwrap_or_default());
        self.before.clear();
        self.next = 0;
    }

    /// Whether `at` is inside a kept finding: a finding offered later that starts there is
    /// dropped.
    fn covers(&self, at: usize) -> bool {
        let inside = |findings: &[Finding]| {
            let after = findings.partition_point(|other| other.range.start <= at);
            after
                .checked_sub(1)
                .and_then(|last| findings.get(last))
                .is_some_and(|other| other.range.end > at)
        };
        inside(&self.kept) || inside(self.before.get(self.next..).unwrap_or_default())
    }

    /// Offers the finding of rule `rule`, between [`begin_rule`](Self::begin_rule) and
    /// [`end_rule`](Self::end_rule); offers come in order of rule, then of position.
    fn offer(&mut self, rule: usize, mut finding: Finding) {
        let start = finding.range.start;
        while let Some(earlier) = self
            .before
            .get(self.next)
            .filter(|earlier| earlier.range.start <= start)
        {
            self.kept.push(earlier.clone());
            self.next += 1;
        }
        // Where the finding goes: last, as offers come in order of position (a search keeps
        // the result right should one not).
        let at = if self
            .kept
            .last()
            .is_none_or(|last| last.range.start <= start)
        {
            self.kept.len()
        } else {
            self.kept
                .partition_point(|other| other.range.start <= start)
        };
        let previous = at
            .checked_sub(1)
            .and_then(|previous| self.kept.get(previous));
        if previous.is_some_and(|previous| previous.range.end > start) {
            return;
        }
        let next = [self.kept.get(at), self.before.get(self.next)]
            .into_iter()
            .flatten()
            .map(|next| next.range.start)
            .min();
        if let Some(next) = next
            && next < finding.range.end
        {
            let cuttable = RULES
                .get(rule)
                .is_some_and(|rule| matches!(rule.check, Check::HighEntropy));
            let cut = start..next;
            if !cuttable
                || !self
                    .input
                    .get(cut.clone())
                    .is_some_and(|value| passes(Check::HighEntropy, value))
            {
                self.rescan = Rescan::Needed;
                return;
            }
            finding.range = cut;
        }
        self.kept.insert(at, finding);
    }

    /// Appends the kept findings to `findings` in order; says whether they are settled.
    fn finish(self, findings: &mut Vec<Finding>) -> Rescan {
        let Self {
            input,
            kept,
            mut rescan,
            ..
        } = self;
        let joins = |at: Option<&u8>| {
            at.is_some_and(|byte| byte.is_ascii_alphanumeric() || b"_-+/=.~".contains(byte))
        };
        for finding in kept {
            let before = finding
                .range
                .start
                .checked_sub(1)
                .and_then(|at| input.get(at));
            if joins(before) || joins(input.get(finding.range.end)) {
                rescan = Rescan::Needed;
            }
            findings.push(finding);
        }
        rescan
    }
}

/// Whether a matched secret passes its rule's check.
fn passes(check: Check, secret: &[u8]) -> bool {
    // Every documented example key of AWS says so (`…EXAMPLE`, `…EXAMPLEKEY`): 20 and 40
    // bytes, the lengths of AWS key ids and secret keys.
    if PUBLISHED_EXAMPLES.contains(&secret)
        || (matches!(secret.len(), 20 | 40) && memchr::memmem::find(secret, b"EXAMPLE").is_some())
    {
        return false;
    }
    match check {
        Check::Format => true,
        Check::NotPlaceholder => !is_placeholder(secret),
        Check::HighEntropy => {
            secret.len() >= GENERIC_MIN_LEN
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
            if distinct >= 8 {
                return false;
            }
        }
    }
    true
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

/// Shannon entropy of `bytes`, in bits per byte: -Σ p·log2(p) over the byte frequencies,
/// computed as log2(n) - Σ c·log2(c) / n with a table of c·log2(c) for small counts.
#[must_use]
pub fn shannon_entropy(bytes: &[u8]) -> f64 {
    static C_LOG2_C: OnceLock<[f64; 256]> = OnceLock::new();
    let table = C_LOG2_C.get_or_init(|| {
        let mut table = [0.0; 256];
        for (count, slot) in (0u32..).zip(table.iter_mut()) {
            let count = f64::from(count);
            *slot = if count > 0.0 {
                count * count.log2()
            } else {
                0.0
            };
        }
        table
    });
    if bytes.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for byte in bytes {
        if let Some(count) = counts.get_mut(usize::from(*byte)) {
            *count = count.saturating_add(1);
        }
    }
    // Lengths beyond u32 saturate, which only lowers the estimate's precision.
    let total = f64::from(u32::try_from(bytes.len()).unwrap_or(u32::MAX));
    // Each distinct byte once: its count is taken (and zeroed) at its first occurrence, so the
    // loop runs over the value, not over all 256 byte values.
    let mut sum = 0.0;
    for byte in bytes {
        if let Some(count) = counts.get_mut(usize::from(*byte))
            && *count > 0
        {
            let c = *count;
            *count = 0;
            sum += usize::try_from(c)
                .ok()
                .and_then(|index| table.get(index))
                .copied()
                .unwrap_or_else(|| f64::from(c) * f64::from(c).log2());
        }
    }
    total.log2() - sum / total
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::FingerprintKey;

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
    fn teddy_order_lists_every_keyword_once() {
        let mut listed: Vec<&str> = TEDDY_ORDER.to_vec();
        listed.sort_unstable();
        let before = listed.len();
        listed.dedup();
        assert_eq!(listed.len(), before, "a keyword is listed twice");
        let mut keywords: Vec<&str> = RULES
            .iter()
            .flat_map(|rule| rule.keywords.iter().copied())
            .collect();
        keywords.sort_unstable();
        keywords.dedup();
        assert_eq!(listed, keywords);
    }

    /// Every rule's keywords, repeats included.
    fn all_keywords() -> Vec<&'static str> {
        RULES
            .iter()
            .flat_map(|rule| rule.keywords.iter().copied())
            .collect()
    }

    #[test]
    fn no_keyword_starts_another() {
        // At most one keyword matches at a position, so the prefilter's leftmost hits do not
        // depend on the keywords' order (the reference model relies on it).
        let keywords = all_keywords();
        for a in &keywords {
            for b in &keywords {
                assert!(a == b || !a.starts_with(b), "`{a}` starts with `{b}`");
            }
        }
    }

    /// Fake secrets of every rule's format (and of formats close to them), for the
    /// differential test.
    const FAKES: &[&str] = &[
        "AKIA[A-Z2-7]{16}",
        "ASIA[A-Z2-7]{14,17}",
        "(aws_secret_access_key|AWS_SECRET_KEY|awsSecret) ?= ?[\"']?[A-Za-z0-9/+]{38,41}",
        "AIza[0-9A-Za-z_\\-]{34,36}",
        "github_pat_[0-9A-Za-z]{22}_[0-9A-Za-z]{58,60}",
        "gh[pousr]_[0-9A-Za-z]{35,37}",
        "glpat-[0-9A-Za-z_\\-]{18,30}(\\.01\\.[0-9a-z]{6,10})?",
        "sk-ant-(api03|admin01)-[0-9A-Za-z_\\-]{78,96}",
        "sk-(proj|svcacct|admin)-[0-9A-Za-z_\\-]{38,60}",
        "sk-[0-9A-Za-z]{47,49}",
        "hf_[0-9A-Za-z]{33,35}",
        "[rs]k_(live|test)_[0-9A-Za-z]{22,40}",
        "xox[abprs]-[0-9]{5,12}-[0-9A-Za-z\\-]{6,24}",
        "SG\\.[0-9A-Za-z_\\-]{21,23}\\.[0-9A-Za-z_\\-]{42,44}",
        "npm_[0-9A-Za-z]{35,37}",
        "pypi-AgEIcHlwaS5vcmc[0-9A-Za-z_\\-]{48,70}",
        "eyJ[0-9A-Za-z_\\-]{6,20}\\.eyJ[0-9A-Za-z_\\-]{6,20}\\.[0-9A-Za-z_\\-]{14,30}",
        "-----BEGIN (RSA |EC |OPENSSH |)PRIVATE KEY( BLOCK)?-----\n[A-Za-z0-9+/]{8,64}\n(-----END (RSA |OPENSSH |)PRIVATE KEY-----)?",
        "(postgres|redis|git\\+ssh|x)://[a-z]{0,8}:[0-9A-Za-z!#%$<>{}*.]{0,20}@[a-z:]{0,8}",
        "(secret|Secret|token|TOKEN|passwd|PASSWORD|pwd|api_key|apiKey|API-KEY|accessKey|auth_key|credentials|privateKey|SECRET_KEY|tOkEn)[A-Za-z_.]{0,6}[\"']?[ \t]{0,2}(=|:|:=|=>)[ \t]{0,2}[\"']?[A-Za-z0-9+/_\\-.=~]{8,40}",
    ];

    /// Pieces that are not secrets but touch the rules: near misses, keywords (some in case
    /// mixes no keyword has, some running into each other), separators and markers.
    const PIECES: &[&str] = &[
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
        "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "postgres://user:password@localhost:5432/db",
        "mysql://root:${MYSQL_ROOT_PASSWORD}@mysql/app",
        "https://docs.rs/regex/latest/regex/",
        "-----BEGIN PUBLIC KEY-----",
        "-----END PRIVATE KEY-----",
        "[REDACTED:jwt:0a1b2c3d]",
        "[REDACTED:",
        "awsecret",
        "Secretoken",
        "passwordtoken",
        "sk-sk-",
        "eyJeyJ",
        "tOkEn",
        "ApiKey",
        "PRIVATE_KEY",
        "Credential",
        "://",
        "=",
        ": ",
        " = ",
        ":=",
        "=>",
        "\"",
        "'",
        " ",
        "\t",
        "\n",
        "\r\n",
        "@",
        "/",
        "-",
        "_",
        ".",
        "]",
    ];

    fn piece() -> impl Strategy<Value = Vec<u8>> {
        let keywords: Vec<&'static str> = RULES
            .iter()
            .flat_map(|rule| rule.keywords.iter().copied())
            .collect();
        let fakes: Vec<_> = FAKES
            .iter()
            .map(|pattern| {
                proptest::string::string_regex(pattern)
                    .expect("the generator compiles")
                    .prop_map(String::into_bytes)
                    .boxed()
            })
            .collect();
        prop_oneof![
            4 => proptest::strategy::Union::new(fakes),
            3 => proptest::sample::select(PIECES).prop_map(|piece| piece.as_bytes().to_vec()),
            2 => proptest::sample::select(keywords).prop_map(|piece| piece.as_bytes().to_vec()),
            2 => "[0-9A-Za-z]{1,48}".prop_map(String::into_bytes),
            1 => proptest::collection::vec(any::<u8>(), 0..8),
        ]
    }

    fn body() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(piece(), 0..24).prop_map(|pieces| pieces.concat())
    }

    /// The scanner as it is where the CPU has no Teddy (`Scanner::standard` is the one this
    /// CPU has: Teddy on x86-64 with AVX2).
    fn automaton_scanner() -> &'static Scanner {
        static SCANNER: OnceLock<Scanner> = OnceLock::new();
        SCANNER.get_or_init(|| Scanner::with_keywords(Keywords::automaton).unwrap())
    }

    fn reference() -> &'static reference::Reference {
        static REFERENCE: OnceLock<reference::Reference> = OnceLock::new();
        REFERENCE.get_or_init(reference::Reference::new)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        /// The scanner is the reference model made fast: the same output, byte for byte, and
        /// the same counts, on bodies mixing secrets, near misses, keywords and noise.
        #[test]
        fn the_scanner_redacts_exactly_as_the_reference_model(input in body()) {
            let key = FingerprintKey::from_bytes(&[7; 32]);
            let slow = reference().redact(&input, &key);
            for scanner in [Scanner::standard().unwrap(), automaton_scanner()] {
                let fast = scanner.redact(&input, &key);
                prop_assert_eq!(
                    String::from_utf8_lossy(fast.body()),
                    String::from_utf8_lossy(slow.body())
                );
                prop_assert_eq!(fast.body(), slow.body());
                prop_assert_eq!(fast.counts(), slow.counts());
            }
        }
    }

    #[test]
    fn no_keyword_hides_inside_another() {
        // The prefilter reports non-overlapping hits: a keyword wholly inside another's
        // occurrence would never be reported (see `Scanner::new`).
        let keywords = all_keywords();
        for a in &keywords {
            for b in &keywords {
                assert!(!a.get(1..).unwrap().contains(b), "`{b}` hides inside `{a}`");
            }
        }
    }
}
