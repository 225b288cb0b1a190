//! Detection: format-valid fake secrets of every kind are caught; near misses survive.

use proptest::prelude::*;
use steward_redact::{
    FingerprintKey, MARKER_PREFIX, MAX_MARKER_LEN, Redactor, Scanner, SecretKind,
    redacted_len_bound,
};

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BASE32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const URLSAFE: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_";
const BASE64: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz+/";

/// A deterministic generator of fake secrets (xorshift64*), so failures reproduce.
struct Fake(u64);

impl Fake {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn of(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len)
            .map(|_| {
                let index = usize::try_from(self.next() % alphabet.len() as u64).unwrap_or(0);
                char::from(alphabet.get(index).copied().unwrap_or(b'a'))
            })
            .collect()
    }
}

fn key() -> FingerprintKey {
    FingerprintKey::from_bytes(&[0x5a; 32])
}

fn scanner() -> &'static Scanner {
    // A scanner that does not compile fails every test; report it once, here.
    match Scanner::standard() {
        Ok(scanner) => scanner,
        Err(error) => unreachable_scanner(&error),
    }
}

#[expect(
    clippy::panic,
    reason = "a test fixture that cannot be built fails the test"
)]
fn unreachable_scanner(error: &steward_redact::RedactError) -> ! {
    panic!("the scanner does not compile: {error}")
}

/// Fake secrets of every kind, each as it would appear in a prompt, with the secret itself.
fn fakes(seed: u64) -> Vec<(SecretKind, String, String)> {
    let mut f = Fake(seed | 1);
    let mut v = Vec::new();
    let mut add = |kind, context: &dyn Fn(&str) -> String, secret: String| {
        v.push((kind, context(&secret), secret));
    };
    add(
        SecretKind::AwsAccessKeyId,
        &|s| format!("aws_access_key_id = {s}"),
        format!("AKIA{}", f.of(BASE32, 16)),
    );
    add(
        SecretKind::AwsAccessKeyId,
        &|s| format!("temporary creds {s} expire soon"),
        format!("ASIA{}", f.of(BASE32, 16)),
    );
    add(
        SecretKind::AwsSecretAccessKey,
        &|s| format!("aws_secret_access_key = {s}\n"),
        f.of(BASE64, 40),
    );
    add(
        SecretKind::AwsSecretAccessKey,
        &|s| format!("export AWS_SECRET_ACCESS_KEY=\"{s}\""),
        f.of(BASE64, 40),
    );
    add(
        SecretKind::GoogleApiKey,
        &|s| format!("https://maps.googleapis.com/maps/api/js?key={s}&callback=init"),
        format!("AIza{}", f.of(URLSAFE, 35)),
    );
    for prefix in ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"] {
        add(
            SecretKind::GithubToken,
            &|s| format!("git clone https://x:{s}@github.com/acme/app"),
            format!("{prefix}{}", f.of(BASE62, 36)),
        );
    }
    add(
        SecretKind::GithubFineGrainedToken,
        &|s| format!("GH_TOKEN: {s}"),
        format!("github_pat_{}_{}", f.of(BASE62, 22), f.of(BASE62, 59)),
    );
    add(
        SecretKind::GitlabToken,
        &|s| format!("curl --header \"PRIVATE-TOKEN: {s}\" https://gitlab.example.com/api"),
        format!("glpat-{}", f.of(URLSAFE, 20)),
    );
    add(
        SecretKind::GitlabToken,
        &|s| format!("token {s} rotated"),
        format!(
            "glpat-{}.01.{}",
            f.of(URLSAFE, 27),
            f.of(b"0123456789abcdefghijklmnopqrstuvwxyz", 9)
        ),
    );
    add(
        SecretKind::OpenAiProjectKey,
        &|s| format!("OPENAI_API_KEY={s}"),
        format!("sk-proj-{}", f.of(URLSAFE, 156)),
    );
    add(
        SecretKind::OpenAiKey,
        &|s| format!("openai.api_key = '{s}'"),
        format!("sk-{}T3BlbkFJ{}", f.of(BASE62, 20), f.of(BASE62, 20)),
    );
    add(
        SecretKind::AnthropicKey,
        &|s| format!("client = Anthropic(api_key=\"{s}\")"),
        format!("sk-ant-api03-{}AA", f.of(URLSAFE, 93)),
    );
    add(
        SecretKind::HuggingFaceToken,
        &|s| format!("huggingface-cli login --token {s}"),
        format!("hf_{}", f.of(BASE62, 34)),
    );
    add(
        SecretKind::StripeKey,
        &|s| format!("stripe.api_key = \"{s}\""),
        format!("sk_live_{}", f.of(BASE62, 99)),
    );
    add(
        SecretKind::StripeKey,
        &|s| format!("restricted {s}"),
        format!("rk_live_{}", f.of(BASE62, 24)),
    );
    for prefix in ["xoxb", "xoxp", "xoxa", "xoxr", "xoxs"] {
        add(
            SecretKind::SlackToken,
            &|s| format!("SLACK_BOT_TOKEN={s}"),
            format!(
                "{prefix}-{}-{}-{}",
                f.of(b"0123456789", 12),
                f.of(b"0123456789", 13),
                f.of(BASE62, 24)
            ),
        );
    }
    add(
        SecretKind::SendgridKey,
        &|s| format!("sg = SendGridAPIClient('{s}')"),
        format!("SG.{}.{}", f.of(URLSAFE, 22), f.of(URLSAFE, 43)),
    );
    add(
        SecretKind::NpmToken,
        &|s| format!("//registry.npmjs.org/:_authToken={s}"),
        format!("npm_{}", f.of(BASE62, 36)),
    );
    add(
        SecretKind::PypiToken,
        &|s| format!("password = {s}"),
        format!("pypi-AgEIcHlwaS5vcmc{}", f.of(URLSAFE, 120)),
    );
    add(
        SecretKind::Jwt,
        &|s| format!("Authorization: Bearer {s}"),
        format!(
            "eyJhbGciOiJSUzI1NiJ9.eyJ{}.{}",
            f.of(URLSAFE, 60),
            f.of(URLSAFE, 86)
        ),
    );
    add(
        SecretKind::PrivateKey,
        &|s| format!("why does ssh reject this?\n{s}\nthanks"),
        format!(
            "-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n{}\n-----END OPENSSH PRIVATE KEY-----",
            f.of(BASE64, 70),
            f.of(BASE64, 70)
        ),
    );
    add(
        SecretKind::PrivateKey,
        &|s| format!("key.pem:\n{s}\n"),
        format!(
            "-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----",
            f.of(BASE64, 64)
        ),
    );
    add(
        SecretKind::PrivateKey,
        &|s| s.to_owned(),
        format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----",
            f.of(BASE64, 64)
        ),
    );
    add(
        SecretKind::UrlPassword,
        &|s| format!("DATABASE_URL=postgres://app:{s}@db.internal:5432/orders"),
        f.of(BASE62, 14),
    );
    add(
        SecretKind::UrlPassword,
        &|s| format!("redis://default:{s}@cache:6379"),
        f.of(BASE62, 9),
    );
    add(
        SecretKind::GenericSecret,
        &|s| format!("client_secret = \"{s}\""),
        f.of(BASE62, 32),
    );
    add(
        SecretKind::GenericSecret,
        &|s| format!("DB_PASSWORD={s}"),
        format!("{}7", f.of(BASE62, 20)),
    );
    add(
        SecretKind::GenericSecret,
        &|s| format!("{{\"api_key\": \"{s}\"}}"),
        format!("{}0a", f.of(b"0123456789abcdef", 30)),
    );
    v
}

#[test]
fn every_kind_of_fake_secret_is_caught_and_replaced_by_its_marker() {
    let key = key();
    for seed in 1..=20 {
        let fakes = fakes(seed);
        for kind in SecretKind::ALL {
            assert!(
                fakes.iter().any(|(k, _, _)| *k == kind),
                "no fake of {kind}"
            );
        }
        for (kind, text, secret) in fakes {
            let redacted = scanner().redact(text.as_bytes(), &key);
            let out = String::from_utf8(redacted.body().to_vec()).unwrap();
            assert!(!out.contains(&secret), "{kind} survived in {out:?}");
            let marker = format!("[REDACTED:{kind}:{}]", key.fingerprint(secret.as_bytes()));
            assert!(out.contains(&marker), "{kind}: {out:?} lacks {marker}");
            assert_eq!(redacted.counts().get(kind), 1, "{kind} in {text:?}");
            assert_eq!(redacted.counts().total(), 1, "{kind} in {text:?}: {out:?}");
        }
    }
}

#[test]
fn the_same_secret_has_the_same_fingerprint_in_two_requests() {
    let key = key();
    let token = format!("ghp_{}", Fake(99).of(BASE62, 36));
    let (a, b) = (
        format!("token {token}"),
        format!("{token} again, different text"),
    );
    let first = scanner().redact(a.as_bytes(), &key);
    let second = scanner().redact(b.as_bytes(), &key);
    let marker = |body: &[u8]| {
        let text = String::from_utf8(body.to_vec()).unwrap();
        let start = text.find("[REDACTED:").unwrap();
        text[start..start + text[start..].find(']').unwrap() + 1].to_owned()
    };
    assert_eq!(marker(first.body()), marker(second.body()));
    let other = FingerprintKey::from_bytes(&[0x5b; 32]);
    let third = scanner().redact(a.as_bytes(), &other);
    assert_ne!(marker(first.body()), marker(third.body()));
}

#[test]
fn a_malformed_private_key_block_is_redacted_from_its_begin_line_to_the_end() {
    let text = "before\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\n...truncated";
    let redacted = scanner().redact(text.as_bytes(), &key());
    let out = String::from_utf8(redacted.body().to_vec()).unwrap();
    assert!(out.starts_with("before\n[REDACTED:private-key:"));
    assert!(out.ends_with(']'));
    assert!(!out.contains("MIIE"));
    assert_eq!(redacted.counts().get(SecretKind::PrivateKey), 1);
}

#[test]
fn two_key_blocks_are_two_findings_and_text_between_them_survives() {
    let block = |label: &str| {
        format!(
            "-----BEGIN {label}PRIVATE KEY-----\nMIIBVAIBADANBgkqhkiG9w0BAQ\n-----END {label}PRIVATE KEY-----"
        )
    };
    let text = format!("{}\nkeep me\n{}", block("EC "), block(""));
    let redacted = scanner().redact(text.as_bytes(), &key());
    let out = String::from_utf8(redacted.body().to_vec()).unwrap();
    assert!(out.contains("]\nkeep me\n[REDACTED:private-key:"), "{out}");
    assert_eq!(redacted.counts().get(SecretKind::PrivateKey), 2);
}

#[test]
fn a_body_that_is_not_utf8_is_scanned_as_bytes() {
    let token = format!("npm_{}", Fake(7).of(BASE62, 36));
    let mut body = vec![0xff, 0xfe, 0x00, b' '];
    body.extend_from_slice(token.as_bytes());
    body.extend_from_slice(&[b' ', 0xc3, 0x28, 0x80]);
    let redacted = scanner().redact(&body, &key());
    assert_eq!(redacted.counts().get(SecretKind::NpmToken), 1);
    assert!(redacted.body().starts_with(&[0xff, 0xfe, 0x00, b' ']));
    assert!(redacted.body().ends_with(&[b' ', 0xc3, 0x28, 0x80]));
    assert!(
        !redacted
            .body()
            .windows(token.len())
            .any(|w| w == token.as_bytes())
    );
}

/// Near misses: none may be redacted.
const NEAR_MISSES: &[&str] = &[
    // Identifiers and code.
    "let access_token_ttl = Duration::from_secs(3600);",
    "def get_api_key(self): return self._api_key",
    "SECRET_KEY = settings.SECRET_KEY",
    "password = os.environ['DB_PASSWORD']",
    "password: ${DB_PASSWORD}",
    "token = request.headers.get('Authorization')",
    "max_tokens = 4096",
    "auth_header_name = \"Authorization-Bearer\"",
    "const task = sk-learn-pipeline;",
    "hf_hub_download(repo_id='bert-base-uncased', filename='config.json')",
    "npm_config_registry=https://registry.npmjs.org/",
    "SG.configure(region='eu')",
    "risk-assessment, desk-booking, ask-me-anything",
    // Git SHAs and hashes.
    "commit da39a3ee5e6b4b0d3255bfef95601890afd80709 fixed it",
    "sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "md5 d41d8cd98f00b204e9800998ecf8427e",
    // A base64 image.
    "<img src=\"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==\">",
    // Public keys and certificates.
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl user@host",
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQC7 deploy@ci",
    "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----",
    "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----",
    // Placeholders.
    "OPENAI_API_KEY=sk-...",
    "api_key = \"YOUR_API_KEY\"",
    "api_key = \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"",
    "GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "ANTHROPIC_API_KEY=sk-ant-...",
    "HF_TOKEN=hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "SLACK_TOKEN=xoxb-your-token-here",
    "postgres://user:password@localhost:5432/db",
    "postgres://app:<password>@db:5432/app",
    "mysql://root:${MYSQL_ROOT_PASSWORD}@mysql/app",
    "amqp://guest:****@rabbit:5672",
    "token: <your token here>",
    // URLs without a password.
    "see https://docs.github.com/en/authentication and http://user@host/path",
    "https://example.com/a:b@c",
    // Published example keys (AWS IAM guide, jwt.io).
    "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    // Stripe's test-mode keys reach no money.
    "stripe.api_key = sk_test_4eC39HqLyjWDarjtT1zdp7dc",
    // Prose.
    "The password policy requires twelve characters; rotate the secret every 90 days.",
];

#[test]
fn near_misses_survive_unchanged() {
    for text in NEAR_MISSES {
        let redacted = scanner().redact(text.as_bytes(), &key());
        assert!(
            redacted.is_unchanged(),
            "{text:?} became {:?}",
            String::from_utf8_lossy(redacted.body())
        );
    }
}

/// Found by the fuzz target `redact` (fuzz/regressions/redact/): a span after `user:` too
/// long to be a URL password held a secret; once that secret became a marker the span was
/// short enough, and a second pass redacted it as a password. A password never spans a
/// marker (brackets are not userinfo characters), so one pass is all there is.
#[test]
fn a_url_password_never_spans_a_marker_so_redacting_twice_changes_nothing() {
    let filler = "x".repeat(150);
    let input = format!(
        "postgres://app:{filler};API_KEY=\"vjASde5KgyNdHocfCBeqfLCd5MhpRRNdMNAdpcL7itBjKhMuL5UmgNMRnygLWeMdQoGUKC2vENEyuq3mV2qfMuJG9wXDtPehHBkZwjGBcTeZLM395vwVxPGN\";tail!@db"
    );
    let once = scanner().redact(input.as_bytes(), &key());
    assert!(!once.is_unchanged());
    let twice = scanner().redact(once.body(), &key());
    assert!(
        twice.is_unchanged(),
        "{}",
        String::from_utf8_lossy(twice.body())
    );
}

#[test]
fn a_marker_is_never_longer_than_the_documented_maximum() {
    for kind in SecretKind::ALL {
        let marker = format!("[REDACTED:{kind}:{}]", key().fingerprint(b"x"));
        assert!(marker.len() <= MAX_MARKER_LEN, "{marker}");
    }
}

/// Bytes that contain no keyword of any rule: lowercase letters other than those spelling a
/// keyword's start are excluded by building from a small alphabet.
fn keyword_free() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![
            Just(b'l'),
            Just(b'm'),
            Just(b'q'),
            Just(b'z'),
            Just(b'0'),
            Just(b'9'),
            Just(b' '),
            Just(b'\n'),
            Just(b'='),
            Just(b'"'),
            Just(b'/'),
            Just(b'@'),
            Just(b'.'),
            Just(0xff),
            Just(0xc3)
        ],
        0..512,
    )
}

/// Bytes biased towards secrets: fragments of every rule's format mixed with random bytes.
fn secretish() -> impl Strategy<Value = Vec<u8>> {
    let fragments: Vec<Vec<u8>> = fakes(3)
        .into_iter()
        .flat_map(|(_, text, secret)| [text.into_bytes(), secret.into_bytes()])
        .chain(
            [
                "-----BEGIN PRIVATE KEY-----\n",
                "-----END PRIVATE KEY-----",
                "://u:",
                "@h",
                "token=",
                "[REDACTED:jwt:",
                "]",
                "\n",
                " ",
            ]
            .map(|s| s.as_bytes().to_vec()),
        )
        .collect();
    proptest::collection::vec(
        prop_oneof![
            proptest::sample::select(fragments),
            proptest::collection::vec(any::<u8>(), 0..24),
        ],
        0..12,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #[test]
    fn output_is_never_longer_than_the_bound(input in secretish()) {
        let redacted = scanner().redact(&input, &key());
        prop_assert!(redacted.body().len() <= redacted_len_bound(input.len()).max(input.len()));
        let total = usize::try_from(redacted.counts().total()).unwrap();
        prop_assert!(redacted.body().len() <= input.len() + total * MAX_MARKER_LEN);
    }

    #[test]
    fn redaction_is_idempotent(input in secretish()) {
        let once = scanner().redact(&input, &key());
        let twice = scanner().redact(once.body(), &key());
        prop_assert!(twice.is_unchanged(), "{:?}", String::from_utf8_lossy(twice.body()));
    }

    #[test]
    fn text_without_any_keyword_is_returned_unchanged(input in keyword_free()) {
        let redacted = scanner().redact(&input, &key());
        prop_assert!(redacted.is_unchanged());
        prop_assert_eq!(redacted.body(), input.as_slice());
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_markers_are_well_formed(input in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let redacted = scanner().redact(&input, &key());
        prop_assert_eq!(
            redacted.body().windows(MARKER_PREFIX.len()).filter(|w| *w == MARKER_PREFIX).count() as u64,
            redacted.counts().total()
                + input.windows(MARKER_PREFIX.len()).filter(|w| *w == MARKER_PREFIX).count() as u64
        );
    }
}
