//! The `steward` binary end to end: each test makes a store in a temporary directory and
//! drives the built binary as a person or a script would, through its arguments, standard
//! input, standard output, standard error and exit code.

#![allow(
    clippy::unwrap_used,
    reason = "end-to-end tests: a failed setup step must fail the test"
)]

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    sync::atomic::{AtomicUsize, Ordering},
};

use serde_json::Value;

const ADA: &str = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a01";
const BEN: &str = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a02";
/// Far past any deletion window of a relationship ended while the tests run.
const LATER: &str = "2099-01-01T00:00:00Z";

/// A temporary directory with a store in `store/`, removed when the test ends.
struct Sandbox {
    dir: PathBuf,
}

/// What one run of the binary did.
struct Run {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
}

impl Run {
    fn stdout(&self) -> String {
        String::from_utf8(self.stdout.clone()).unwrap()
    }
}

impl Sandbox {
    fn new(name: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "steward-cli-{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Self { dir }
    }

    fn store(&self) -> PathBuf {
        self.dir.join("store")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// `steward --store <store> args...`, ready to run in the sandbox.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_steward"));
        command
            .arg("--store")
            .arg(self.store())
            .args(args)
            .current_dir(&self.dir)
            // The tests own their keys: none may come from the environment running them.
            .env_remove("STEWARD_STORE")
            .env_remove("STEWARD_MASTER_KEY")
            .env_remove("STEWARD_AUDIT_KEY")
            .env_remove("STEWARD_MASTER_KEY_ID")
            .env_remove("STEWARD_POSTGRES");
        command
    }

    /// Runs `steward --store <store> args...` with `stdin` as standard input.
    fn run_with_input(&self, args: &[&str], stdin: &str) -> Run {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let Output {
            status,
            stdout,
            stderr,
        } = child.wait_with_output().unwrap();
        Run {
            code: status.code().unwrap(),
            stdout,
            stderr: String::from_utf8(stderr).unwrap(),
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_with_input(args, "")
    }

    /// Runs a command that must succeed, and returns its standard output.
    /// Runs `steward [--policy FILE] ARGS`: under the policy file `policy` if one is given.
    fn run_under(&self, policy: Option<&str>, args: &[&str]) -> Run {
        let mut all = Vec::with_capacity(args.len() + 2);
        if let Some(policy) = policy {
            all.extend(["--policy", policy]);
        }
        all.extend_from_slice(args);
        self.run(&all)
    }

    fn ok(&self, args: &[&str]) -> String {
        let run = self.run(args);
        assert_eq!(
            run.code,
            0,
            "`steward {}` failed: {}",
            args.join(" "),
            run.stderr
        );
        run.stdout()
    }

    /// Runs a command with `--json` that must succeed, and parses its output.
    fn json(&self, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.push("--json");
        serde_json::from_str(&self.ok(&args)).unwrap()
    }

    /// Ingests JSON lines and returns the new record ids, in input order.
    fn ingest(&self, lines: &str) -> Vec<String> {
        let run = self.run_with_input(&["ingest", "--json"], lines);
        assert_eq!(run.code, 0, "ingest failed: {}", run.stderr);
        let records: Value = serde_json::from_str(&run.stdout()).unwrap();
        records
            .as_array()
            .unwrap()
            .iter()
            .map(|record| {
                record
                    .get("record")
                    .and_then(Value::as_str)
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }

    /// How many entries the audit chain holds (it verifies on the way).
    fn audit_entries(&self) -> u64 {
        self.json(&["audit", "verify"])
            .get("entries")
            .and_then(Value::as_u64)
            .unwrap()
    }

    /// A store with sam.steward on the roster and Ada and Ben as customers since 2025.
    /// The customer sets their training level in their account settings (the actor and
    /// channel every `consent set` states).
    fn customer_sets_consent(&self, customer: &str, level: &str) -> String {
        self.ok(&[
            "consent",
            "set",
            "--customer",
            customer,
            "--level",
            level,
            "--actor",
            "customer",
            "--channel",
            "account-settings",
        ])
    }

    fn with_customers(name: &str) -> Self {
        let sandbox = Self::new(name);
        sandbox.ok(&["init"]);
        sandbox.ok(&[
            "roster",
            "add",
            "--steward",
            "sam.steward",
            "--admin",
            "dana.admin",
        ]);
        for customer in [ADA, BEN] {
            sandbox.ok(&["customer", "start", "--customer", customer]);
        }
        sandbox
    }

    /// `steward check` of a steward's open of `customer`'s log collected now.
    fn open_check(&self, customer: &str) -> Run {
        self.run(&[
            "check",
            "--actor",
            "steward:sam.steward",
            "--action",
            "open:troubleshooting",
            "--category",
            "llm-request-log",
            "--owner",
            customer,
            "--collected",
            &now(),
            "--justification",
            "INC-1",
        ])
    }

    fn open(&self, record: &str, purpose: &str, steward: &str) -> Run {
        self.run(&[
            "open",
            "--record",
            record,
            "--purpose",
            purpose,
            "--ticket",
            "INC-2041 timeouts",
            "--steward",
            steward,
        ])
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn line(customer: &str, body: &str) -> String {
    format!(
        "{}\n",
        serde_json::json!({ "customer": customer, "body": body })
    )
}

#[test]
fn init_refuses_to_overwrite_and_keeps_the_keys_private() {
    let sandbox = Sandbox::new("init");
    sandbox.ok(&["init"]);
    let store = sandbox.store();
    for name in [
        "steward.db",
        "master.key",
        "audit.key",
        "checkpoint.pk8",
        "checkpoint.pub",
    ] {
        assert!(store.join(name).is_file(), "{name} was not written");
    }
    let master = fs::read_to_string(store.join("master.key")).unwrap();
    assert_eq!(master.trim().len(), 64);
    assert!(master.trim().bytes().all(|byte| byte.is_ascii_hexdigit()));
    assert_ne!(
        master,
        fs::read_to_string(store.join("audit.key")).unwrap(),
        "two keys drawn from the random source are the same"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for name in [
            "master.key",
            "audit.key",
            "checkpoint.pk8",
            "steward.db",
            "steward.db-wal",
            "steward.db-shm",
        ] {
            let Ok(metadata) = fs::metadata(store.join(name)) else {
                // SQLite removes the -wal and -shm files when the last connection closes.
                assert!(name.starts_with("steward.db-"), "{name} is missing");
                continue;
            };
            let mode = metadata.permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{name} is readable by others");
        }
    }

    let again = sandbox.run(&["init"]);
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("steward.db"), "{}", again.stderr);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    // Without the database, the keys are still never overwritten.
    fs::remove_file(store.join("steward.db")).unwrap();
    let again = sandbox.run(&["init"]);
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("master.key"), "{}", again.stderr);
    assert_eq!(
        fs::read_to_string(store.join("master.key")).unwrap(),
        master
    );
}

/// Who acts and through which channel is stated, never defaulted: the receipt names both, so
/// an operator's change can never read as the customer's own choice.
#[test]
fn consent_set_requires_the_actor_and_the_channel() {
    let sandbox = Sandbox::with_customers("consent-actor");
    for (args, missing) in [
        (&["--channel", "account-settings"][..], "--actor"),
        (&["--actor", "customer"][..], "--channel"),
        (&[][..], "--actor"),
    ] {
        let mut command = vec!["consent", "set", "--customer", ADA, "--level", "shared"];
        command.extend_from_slice(args);
        let run = sandbox.run(&command);
        assert_eq!(run.code, 2, "{missing}: {}", run.stderr);
        assert!(run.stderr.contains(missing), "{missing}: {}", run.stderr);
        assert!(run.stderr.contains("required"), "{missing}: {}", run.stderr);
    }
    // Nothing was recorded by the refused commands.
    let history = sandbox.json(&["consent", "history", "--customer", ADA]);
    assert_eq!(history.as_array().map(Vec::len), Some(0));
    let receipt = sandbox.json(&[
        "consent",
        "set",
        "--customer",
        ADA,
        "--level",
        "shared",
        "--actor",
        "admin:dana.support:TICKET-7 written opt-in",
        "--channel",
        "support-request",
    ]);
    assert_eq!(
        receipt["actor"],
        "admin:dana.support:TICKET-7 written opt-in"
    );
    assert_eq!(receipt["channel"], "support-request");
}

#[test]
fn roster_customers_and_consent_round_trip_as_json() {
    let sandbox = Sandbox::new("round-trip");
    sandbox.ok(&["init"]);
    let added = sandbox.json(&[
        "roster",
        "add",
        "--steward",
        "sam.steward",
        "--admin",
        "dana",
    ]);
    assert_eq!(added["changed"], true);
    let again = sandbox.json(&[
        "roster",
        "add",
        "--steward",
        "sam.steward",
        "--admin",
        "dana",
    ]);
    assert_eq!(again["changed"], false);
    let roster = sandbox.json(&["roster", "list"]);
    assert_eq!(roster["stewards"], serde_json::json!(["sam.steward"]));
    assert_eq!(roster["max_stewards"], 3);

    // The bundled policy allows a select few: a fourth steward is denied, citing the clause.
    sandbox.ok(&["roster", "add", "--steward", "b.steward", "--admin", "dana"]);
    sandbox.ok(&["roster", "add", "--steward", "c.steward", "--admin", "dana"]);
    let fourth = sandbox.run(&["roster", "add", "--steward", "d.steward", "--admin", "dana"]);
    assert_eq!(fourth.code, 3, "{}", fourth.stderr);
    assert!(fourth.stderr.contains("logs.access"), "{}", fourth.stderr);
    let removed = sandbox.json(&[
        "roster",
        "remove",
        "--steward",
        "c.steward",
        "--admin",
        "dana",
    ]);
    assert_eq!(removed["changed"], true);
    assert_eq!(
        sandbox.json(&["roster", "list"])["stewards"],
        serde_json::json!(["b.steward", "sam.steward"])
    );

    // Started now: recorded and in force at the same instant.
    let started = sandbox.json(&["customer", "start", "--customer", ADA]);
    assert_eq!(started["relationship"], "started");
    assert_eq!(started["started_at"], started["recorded_at"]);
    let listed = sandbox.json(&["customer", "list"]);
    assert_eq!(listed[0]["customer"], ADA);
    assert_eq!(listed[0]["ended_at"], Value::Null);

    let receipt = sandbox.json(&[
        "consent",
        "set",
        "--customer",
        ADA,
        "--level",
        "shared",
        "--actor",
        "customer",
        "--channel",
        "account-settings",
    ]);
    assert_eq!(receipt["level"], "shared");
    assert_eq!(receipt["previous_level"], "none");
    assert_eq!(receipt["actor"], "customer");
    assert_eq!(receipt["policy_version"], "2025-03-05");
    let shown = sandbox.json(&["consent", "show", "--customer", ADA]);
    assert_eq!(shown["level"], "shared");
    assert_eq!(shown["clause"], "training.shared");
    // Before the change, the default: training.default-off.
    let before = sandbox.json(&[
        "consent",
        "show",
        "--customer",
        ADA,
        "--at",
        "2025-06-01T00:00:00Z",
    ]);
    assert_eq!(before["level"], "none");

    sandbox.ok(&[
        "consent",
        "set",
        "--customer",
        ADA,
        "--level",
        "none",
        "--actor",
        "admin:dana.support:TICKET-7 written opt-out",
        "--channel",
        "support-request",
    ]);
    let history = sandbox.json(&["consent", "history", "--customer", ADA]);
    let receipts = history.as_array().unwrap();
    assert_eq!(receipts.len(), 2);
    assert_eq!(receipts[1]["previous_level"], "shared");
    assert_eq!(
        receipts[1]["actor"],
        "admin:dana.support:TICKET-7 written opt-out"
    );

    // No backdating: a change in force before it is recorded is refused as bad input.
    let backdated = sandbox.run(&[
        "consent",
        "set",
        "--customer",
        ADA,
        "--level",
        "shared",
        "--effective",
        "2025-01-01T00:00:00Z",
        "--actor",
        "customer",
        "--channel",
        "api",
    ]);
    assert_eq!(backdated.code, 2);
    assert!(
        backdated.stderr.contains("before it was recorded"),
        "{}",
        backdated.stderr
    );
    assert_eq!(
        sandbox
            .json(&["consent", "history", "--customer", ADA])
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn ingest_then_open_prints_exactly_the_body_and_audits_it() {
    let sandbox = Sandbox::with_customers("open");
    let body = "Why does my build fail with E0502?  naïve ✓\n\tindented\n";
    let records = sandbox.ingest(&format!("{}\n{}", line(ADA, "Ada's"), line(BEN, body)));
    assert_eq!(records.len(), 2);
    let before = sandbox.audit_entries();

    let opened = sandbox.open(&records[1], "troubleshooting", "sam.steward");
    assert_eq!(opened.code, 0, "{}", opened.stderr);
    assert_eq!(opened.stdout, body.as_bytes());
    assert!(opened.stderr.contains("audit trail"), "{}", opened.stderr);
    assert_eq!(sandbox.audit_entries(), before + 1);

    // A JSON body is sealed exactly as written, spacing and key order included.
    let raw =
        format!("{{\"customer\": \"{ADA}\", \"body\": {{\"prompt\": \"x\",  \"a\": [1, 2]}}}}");
    let records = sandbox.ingest(&raw);
    let opened = sandbox.open(&records[0], "customer-support", "sam.steward");
    assert_eq!(opened.stdout(), r#"{"prompt": "x",  "a": [1, 2]}"#);
}

#[test]
fn ingest_redacts_secrets_before_sealing_and_reports_counts_per_kind_never_the_secret() {
    let sandbox = Sandbox::with_customers("ingest-secrets");
    // Format-valid fakes, never issued.
    let key = "AKIAQ3EGRJ7WZ5TNXK2M";
    let pem = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n";
    let body = format!("aws_access_key_id={key}\nssh says invalid format:\n{pem}");
    let input = format!("{}{}", line(ADA, &body), line(BEN, "no secret here"));
    let run = sandbox.run_with_input(&["ingest", "--json"], &input);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let stdout = run.stdout();
    assert!(!stdout.contains(key), "{stdout}");
    let records: Value = serde_json::from_str(&stdout).unwrap();
    let records = records.as_array().unwrap();
    assert_eq!(
        records[0].get("redacted").unwrap(),
        &serde_json::json!({ "aws-access-key-id": 1, "private-key": 1 })
    );
    assert_eq!(records[1].get("redacted").unwrap(), &serde_json::json!({}));

    let opened = sandbox.open(
        records[0].get("record").and_then(Value::as_str).unwrap(),
        "troubleshooting",
        "sam.steward",
    );
    assert_eq!(opened.code, 0, "{}", opened.stderr);
    let text = opened.stdout();
    assert!(
        !text.contains(key) && !text.contains("b3BlbnNzaC1"),
        "{text}"
    );
    assert!(
        text.starts_with("aws_access_key_id=[REDACTED:aws-access-key-id:"),
        "{text}"
    );
    assert!(
        text.contains("invalid format:\n[REDACTED:private-key:"),
        "{text}"
    );

    // The human report sums the kinds on standard error, after the table.
    let human = sandbox.run_with_input(&["ingest"], &line(ADA, &body));
    assert_eq!(human.code, 0, "{}", human.stderr);
    assert!(
        human
            .stderr
            .contains("redacted 2 secrets before sealing (aws-access-key-id: 1, private-key: 1)"),
        "{}",
        human.stderr
    );
    assert!(!human.stderr.contains(key) && !human.stdout().contains(key));
}

/// The table `steward ingest` prints for `rows` (customer, collected, consent), in input order,
/// with the record ids it printed: `text` must be exactly that table, nothing before, inside or
/// after it.
fn assert_is_the_ingest_table(text: &str, rows: &[(&str, &str, &str)]) {
    // The ids are generated: read them from the first column, then rebuild the whole table.
    let ids: Vec<&str> = text
        .lines()
        .skip(1)
        .map(|row| row.split(' ').next().unwrap())
        .collect();
    assert_eq!(ids.len(), rows.len(), "{text}");
    // Collection instants show their fraction of a second only when they have one.
    let width = rows.iter().map(|row| row.1.len()).max().unwrap_or(0);
    let mut expected = format!(
        "{:<36}  {:<36}  {:<width$}  CONSENT\n",
        "RECORD", "CUSTOMER", "COLLECTED"
    );
    for (id, (customer, collected, consent)) in ids.iter().zip(rows) {
        assert_eq!(id.len(), 36, "{text}");
        expected.push_str(&format!(
            "{id}  {customer}  {collected:<width$}  {consent}\n"
        ));
    }
    assert_eq!(text, expected);
}

#[test]
fn ingest_prints_exactly_the_table_and_its_summary_after_it_on_standard_error() {
    let sandbox = Sandbox::with_customers("ingest-table");
    // Collected after Ben's relationship started, which starts when it is recorded.
    let collected = now();
    sandbox.customer_sets_consent(ADA, "shared");
    let input = format!(
        "{}\n{}\n",
        serde_json::json!({ "customer": BEN, "at": collected, "body": "x" }),
        serde_json::json!({ "customer": ADA, "body": "y" }),
    );
    let run = sandbox.run_with_input(&["ingest"], &input);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let stdout = run.stdout();
    let now = stdout.lines().nth(2).unwrap().split("  ").nth(2).unwrap();
    let rows = [(BEN, collected.as_str(), "none"), (ADA, now, "shared")];
    assert_is_the_ingest_table(&stdout, &rows);
    assert!(
        run.stderr
            .starts_with("sealed and stored 2 records under the consent in force"),
        "{}",
        run.stderr
    );

    // One file for both streams, as `2>&1` or a terminal shows them: the whole table, then
    // the summary on a line of its own, never inside the table.
    let both = sandbox.path("both.txt");
    let file = fs::File::create(&both).unwrap();
    let status = sandbox
        .command(&["ingest", "-"])
        .stdin(Stdio::piped())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .and_then(|mut child| {
            child.stdin.take().unwrap().write_all(input.as_bytes())?;
            child.wait()
        })
        .unwrap();
    assert!(status.success());
    let text = fs::read_to_string(&both).unwrap();
    let (table, summary) = text.split_at(text.find("sealed and stored").unwrap());
    let now = table.lines().nth(2).unwrap().split("  ").nth(2).unwrap();
    assert_is_the_ingest_table(
        table,
        &[(BEN, collected.as_str(), "none"), (ADA, now, "shared")],
    );
    assert_eq!(summary.lines().count(), 1, "{text}");
    assert!(summary.ends_with(")\n"), "{text}");
}

/// A record id's 16 bytes, as the store keys its rows.
fn id_bytes(id: &str) -> Vec<u8> {
    let hex: String = id.chars().filter(|c| *c != '-').collect();
    (0..hex.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&hex[at..at + 2], 16).unwrap())
        .collect()
}

#[test]
fn open_refuses_a_record_whose_stored_bytes_were_swapped_with_another() {
    let sandbox = Sandbox::with_customers("swapped");
    let records = sandbox.ingest(&format!(
        "{}{}",
        line(ADA, "Ada's prompt"),
        line(BEN, "Ben's prompt")
    ));
    let (a, b) = (&records[0], &records[1]);
    let before = sandbox.audit_entries();
    // Swap the two sealed blobs in steward.db, as a script with write access to the file could.
    let conn = rusqlite::Connection::open(sandbox.store().join("steward.db")).unwrap();
    let sealed = |id: &str| -> Vec<u8> {
        conn.query_row(
            "SELECT sealed FROM records WHERE id = ?1",
            [id_bytes(id)],
            |row| row.get(0),
        )
        .unwrap()
    };
    let (of_a, of_b) = (sealed(a), sealed(b));
    for (id, bytes) in [(a, of_b), (b, of_a)] {
        conn.execute(
            "UPDATE records SET sealed = ?2 WHERE id = ?1",
            rusqlite::params![id_bytes(id), bytes],
        )
        .unwrap();
    }
    drop(conn);

    let opened = sandbox.open(a, "troubleshooting", "sam.steward");
    assert_eq!(opened.code, 1, "{}", opened.stderr);
    assert!(opened.stdout.is_empty(), "{}", opened.stdout());
    assert!(
        opened.stderr.contains(&format!("`{a}`")),
        "{}",
        opened.stderr
    );
    assert!(opened.stderr.contains("corrupt"), "{}", opened.stderr);
    assert!(!opened.stderr.contains("Ben's"), "{}", opened.stderr);
    // Nothing was decrypted, so nothing was audited as opened.
    assert_eq!(sandbox.audit_entries(), before);
}

#[test]
fn a_refused_open_exits_3_names_the_clause_and_prints_nothing() {
    let sandbox = Sandbox::with_customers("refused");
    let records = sandbox.ingest(&line(BEN, "secret prompt"));
    let before = sandbox.audit_entries();

    let marketing = sandbox.open(&records[0], "marketing", "sam.steward");
    assert_eq!(marketing.code, 3, "{}", marketing.stderr);
    assert!(marketing.stdout.is_empty());
    assert!(
        marketing.stderr.contains("[logs.purposes]"),
        "{}",
        marketing.stderr
    );
    assert!(
        marketing.stderr.contains("`marketing`"),
        "{}",
        marketing.stderr
    );

    let stranger = sandbox.open(&records[0], "troubleshooting", "mallory");
    assert_eq!(stranger.code, 3);
    assert!(stranger.stdout.is_empty());
    assert!(
        stranger.stderr.contains("[logs.access]"),
        "{}",
        stranger.stderr
    );
    assert!(!stranger.stderr.contains("secret"), "{}", stranger.stderr);

    // Both refusals are in the audit trail.
    assert_eq!(sandbox.audit_entries(), before + 2);
}

#[test]
fn bad_input_exits_2_naming_what_is_wrong() {
    let sandbox = Sandbox::with_customers("bad-input");
    let records = sandbox.ingest(&line(BEN, "hello"));

    let uuid = sandbox.run(&["customer", "start", "--customer", "not-a-uuid"]);
    assert_eq!(uuid.code, 2);
    assert!(uuid.stderr.contains("`not-a-uuid`"), "{}", uuid.stderr);

    let purpose = sandbox.open(&records[0], "resale", "sam.steward");
    assert_eq!(purpose.code, 2);
    assert!(
        purpose.stderr.contains("unknown purpose `resale`"),
        "{}",
        purpose.stderr
    );
    assert!(purpose.stdout.is_empty());

    let time = sandbox.run(&["sweep", "--plan", "--at", "yesterday"]);
    assert_eq!(time.code, 2);
    assert!(time.stderr.contains("`yesterday`"), "{}", time.stderr);

    // A bad line stores nothing, not even the good lines before it.
    let lines = format!(
        "{}{{\"customer\": \"{BEN}\", \"boddy\": \"x\"}}\n",
        line(BEN, "ok")
    );
    let ingest = sandbox.run_with_input(&["ingest"], &lines);
    assert_eq!(ingest.code, 2);
    assert!(ingest.stderr.contains("line 2"), "{}", ingest.stderr);
    assert!(ingest.stderr.contains("boddy"), "{}", ingest.stderr);
    assert_eq!(sandbox.json(&["sweep", "--plan"])["evaluated"], 1);

    let unknown = sandbox.run(&[
        "open",
        "--record",
        "01a234c9-740e-70db-8ace-59131c39ad08",
        "--purpose",
        "troubleshooting",
        "--ticket",
        "INC-1",
        "--steward",
        "sam.steward",
    ]);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("not in the store"),
        "{}",
        unknown.stderr
    );

    fs::rename(
        sandbox.store().join("master.key"),
        sandbox.path("master.key.moved"),
    )
    .unwrap();
    let missing = sandbox.run(&["roster", "list"]);
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("master.key"), "{}", missing.stderr);
    assert!(
        missing.stderr.contains("STEWARD_MASTER_KEY"),
        "{}",
        missing.stderr
    );

    let policy = sandbox.run(&["--policy", "missing-policy.toml", "roster", "list"]);
    assert_eq!(policy.code, 2);
    assert!(
        policy.stderr.contains("`missing-policy.toml`"),
        "{}",
        policy.stderr
    );

    let elsewhere = Sandbox::new("no-store");
    let none = elsewhere.run(&["roster", "list"]);
    assert_eq!(none.code, 2);
    assert!(none.stderr.contains("steward init"), "{}", none.stderr);
}

#[test]
fn a_policy_file_replaces_the_bundled_policy() {
    let sandbox = Sandbox::with_customers("policy");
    let collected = now();
    let strict = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/custom-policy.toml"
    );
    let roster = sandbox.json(&["--policy", strict, "roster", "list"]);
    assert_eq!(roster["max_stewards"], 2);
    // Its purposes: no `reliability` for logs, which the bundled policy allows.
    let ask = |extra: &[&str]| {
        let mut args = vec![
            "check",
            "--actor",
            "steward:sam.steward",
            "--action",
            "open:reliability",
            "--category",
            "llm-request-log",
            "--owner",
            BEN,
            "--collected",
            &collected,
            "--justification",
            "INC-9",
        ];
        args.extend_from_slice(extra);
        sandbox.run(&args)
    };
    let bundled = ask(&[]);
    assert_eq!(bundled.code, 0, "{}", bundled.stderr);
    let custom = ask(&["--policy", strict]);
    assert_eq!(custom.code, 3, "{}", custom.stdout());
    assert!(
        custom.stdout().contains("logs.purposes"),
        "{}",
        custom.stdout()
    );
}

/// Key files are private (as ssh requires), hex (a raw file is refused with the command that
/// converts it) and not trivially weak; each refusal is bad input naming the fix.
#[test]
fn key_files_readable_by_others_raw_or_weak_are_refused_with_the_fix() {
    let sandbox = Sandbox::with_customers("key-files");
    let audit = sandbox.store().join("audit.key");
    let good = fs::read(&audit).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&audit, fs::Permissions::from_mode(0o644)).unwrap();
        let run = sandbox.run(&["roster", "list"]);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(run.stderr.contains("audit.key"), "{}", run.stderr);
        assert!(run.stderr.contains("644"), "{}", run.stderr);
        assert!(run.stderr.contains("chmod 600"), "{}", run.stderr);
        fs::set_permissions(&audit, fs::Permissions::from_mode(0o600)).unwrap();
    }
    fs::write(&audit, b"steward test key 17, not secret!").unwrap();
    let run = sandbox.run(&["roster", "list"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("xxd -p -c 32"), "{}", run.stderr);
    fs::write(&audit, format!("{}\n", "00".repeat(32))).unwrap();
    let run = sandbox.run(&["roster", "list"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("audit key is trivially weak"),
        "{}",
        run.stderr
    );
    fs::write(&audit, good).unwrap();
    sandbox.ok(&["roster", "list"]);
}

#[test]
fn a_wrong_key_is_a_failure_not_bad_input() {
    let sandbox = Sandbox::with_customers("wrong-key");
    // Another key, not a weak one (a weak key is refused as bad input before it is compared).
    fs::write(
        sandbox.store().join("audit.key"),
        "3f9c1be07a5d24e86b0f93c7512ad4e8907c6b3e15f2a8d94c0b7e61a3d5f208\n",
    )
    .unwrap();
    let run = sandbox.run(&["roster", "list"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("wrong audit key"), "{}", run.stderr);
}

#[test]
fn export_writes_only_the_permitted_records() {
    let sandbox = Sandbox::with_customers("export");
    // Collected before Ada opts in: it keeps `none` (training.forward-only).
    let early = format!(
        "{}\n",
        serde_json::json!({ "customer": ADA, "at": now(), "body": "early" })
    );
    sandbox.ingest(&early);
    sandbox.customer_sets_consent(ADA, "shared");
    sandbox.ingest(&format!(
        "{}{}",
        line(ADA, "after opt-in"),
        line(BEN, "ben's")
    ));

    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let out = sandbox.path("shared.jsonl");
    let out_arg = out.to_str().unwrap();
    let export = sandbox.json(&[
        "export",
        "training",
        "--scope",
        "shared",
        "--out",
        out_arg,
        "--recipient",
        &recipient,
    ]);
    assert_eq!(export["outcome"]["counts"]["exported"], 1);
    assert_eq!(export["outcome"]["counts"]["consent"], 2);
    assert_eq!(export["matches_plan"], true);
    assert_eq!(export["encrypted"], true);
    let lines: Vec<Value> = decrypt_lines(&out, &identity);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["body"], "after opt-in");
    assert_eq!(lines[0]["customer"], ADA);
    assert_eq!(lines[0]["consent_at_collection"], "shared");
    let manifest = read_lines(&sandbox.path("shared.jsonl.manifest.jsonl"));
    assert_eq!(manifest.len(), 2);
    assert_eq!(manifest[0]["record"], lines[0]["record"]);
    assert_eq!(manifest[1]["format"], "steward-training-manifest/3");
    assert_eq!(manifest[1]["matches_plan"], true);
    assert_eq!(manifest[1]["recipients"], serde_json::json!([recipient]));

    // Nothing is overwritten.
    let again = sandbox.run(&[
        "export",
        "training",
        "--scope",
        "shared",
        "--out",
        out_arg,
        "--recipient",
        &recipient,
    ]);
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    assert_eq!(decrypt_lines(&out, &identity), lines);

    // A private job for Ben: his consent is `none`, so nothing.
    let ben = sandbox.path("ben.jsonl");
    let scope = format!("private:{BEN}");
    let private = sandbox.json(&[
        "export",
        "training",
        "--scope",
        &scope,
        "--out",
        ben.to_str().unwrap(),
        "--manifest",
        sandbox.path("ben.manifest").to_str().unwrap(),
        "--dangerous-plaintext",
    ]);
    assert_eq!(private["outcome"]["counts"]["exported"], 0);
    assert!(read_lines(&ben).is_empty());
    assert_eq!(read_lines(&sandbox.path("ben.manifest")).len(), 1);

    let bad_scope = sandbox.run(&[
        "export",
        "training",
        "--scope",
        "everyone",
        "--out",
        "x",
        "--dangerous-plaintext",
    ]);
    assert_eq!(bad_scope.code, 2);
    assert!(
        bad_scope.stderr.contains("`everyone`"),
        "{}",
        bad_scope.stderr
    );
}

/// A format-valid fake OpenAI legacy key (never issued).
const FAKE_OPENAI_KEY: &str = "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";

fn opted_in_with_a_secret(name: &str) -> Sandbox {
    let sandbox = Sandbox::with_customers(name);
    sandbox.ok(&[
        "consent",
        "set",
        "--customer",
        ADA,
        "--level",
        "shared",
        "--actor",
        "customer",
        "--channel",
        "account-settings",
    ]);
    sandbox.ingest(&line(
        ADA,
        &format!("OPENAI_API_KEY={FAKE_OPENAI_KEY} why 401?"),
    ));
    sandbox
}

#[test]
fn export_refuses_a_recipient_that_is_not_age_x25519_and_writes_nothing() {
    let sandbox = opted_in_with_a_secret("export-bad-recipient");
    let good = age::x25519::Identity::generate().to_public().to_string();
    let out = sandbox.path("bad.jsonl");
    let run = sandbox.run(&[
        "export",
        "training",
        "--scope",
        "shared",
        "--out",
        out.to_str().unwrap(),
        "--recipient",
        &good,
        "--recipient",
        "age1nope",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("`age1nope`"), "{}", run.stderr);
    assert!(!out.exists());
    assert!(!sandbox.path("bad.jsonl.manifest.jsonl").exists());
    // Neither a recipient nor --dangerous-plaintext: refused as usage, nothing written.
    let neither = sandbox.run(&[
        "export",
        "training",
        "--scope",
        "shared",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(neither.code, 2, "{}", neither.stderr);
    assert!(!out.exists());
}

#[test]
fn export_plaintext_needs_the_dangerous_flag_holds_no_secret_and_is_private_to_its_owner() {
    let sandbox = opted_in_with_a_secret("export-plaintext");
    let out = sandbox.path("plain.jsonl");
    let printed = sandbox.ok(&[
        "export",
        "training",
        "--scope",
        "shared",
        "--out",
        out.to_str().unwrap(),
        "--dangerous-plaintext",
    ]);
    assert!(
        printed.contains("secrets redacted before export: none"),
        "{printed}"
    );
    let text = fs::read_to_string(&out).unwrap();
    assert!(!text.contains(FAKE_OPENAI_KEY), "{text}");
    assert!(text.contains("[REDACTED:openai-key:"), "{text}");
    let manifest = fs::read_to_string(sandbox.path("plain.jsonl.manifest.jsonl")).unwrap();
    assert!(!manifest.contains(FAKE_OPENAI_KEY));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for file in [out.clone(), sandbox.path("plain.jsonl.manifest.jsonl")] {
            let mode = fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", file.display());
        }
    }
}

#[test]
fn export_list_shows_the_jobs_and_a_sweep_names_the_exports_still_holding_deleted_records() {
    let sandbox = opted_in_with_a_secret("lineage");
    sandbox.ingest(&line(BEN, "ben's prompt"));
    let recipient = age::x25519::Identity::generate().to_public().to_string();
    let shared = sandbox.json(&[
        "export",
        "training",
        "--scope",
        "shared",
        "--out",
        sandbox.path("shared.age").to_str().unwrap(),
        "--recipient",
        &recipient,
    ]);
    let scope = format!("private:{ADA}");
    let private = sandbox.json(&[
        "export",
        "training",
        "--scope",
        &scope,
        "--out",
        sandbox.path("ada.jsonl").to_str().unwrap(),
        "--dangerous-plaintext",
    ]);
    let (first, second) = (
        shared["outcome"]["plan"]["job"]
            .as_str()
            .unwrap()
            .to_owned(),
        private["outcome"]["plan"]["job"]
            .as_str()
            .unwrap()
            .to_owned(),
    );

    let jobs = sandbox.json(&["export", "list"]);
    assert_eq!(jobs.as_array().unwrap().len(), 2, "{jobs}");
    assert_eq!(jobs[0]["job"], first.as_str());
    assert_eq!(jobs[0]["scope"], serde_json::json!({ "scope": "shared" }));
    assert_eq!(jobs[0]["recipients"], serde_json::json!([recipient]));
    assert_eq!(
        jobs[0]["customers"],
        serde_json::json!([{ "customer": ADA, "records": 1 }])
    );
    assert_eq!(jobs[1]["job"], second.as_str());
    assert_eq!(jobs[1]["recipients"], serde_json::json!([]));
    let text = sandbox.ok(&["export", "list"]);
    assert!(text.contains(&format!("{first} at ")), "{text}");
    assert!(
        text.contains(&format!("encrypted to {recipient}")),
        "{text}"
    );
    assert!(
        text.contains(&format!("  customer {ADA}: 1 record")),
        "{text}"
    );

    // Ada leaves: the sweep deletes her records and shreds her keys, and names the exports
    // that still hold her records, which no deletion here reaches.
    sandbox.ok(&["customer", "end", "--customer", ADA]);
    let report = sandbox.ok(&["sweep", "--execute"]);
    assert!(
        report.contains(&format!(
            "records of customer {ADA} are still in exports {first}, {second}"
        )),
        "{report}"
    );
    // Ben's records never left custody: nothing to name for him.
    sandbox.ok(&["customer", "end", "--customer", BEN]);
    let report = sandbox.json(&["sweep", "--execute"]);
    assert_eq!(report["shredded"], serde_json::json!([BEN]));
    assert_eq!(report["still_in_exports"], serde_json::json!([]));
}

/// `--ticket x` is no reason, an invisible character hides nothing, and a policy file's
/// justification pattern binds `open` and holds alike (logs.access: only when necessary).
#[test]
fn a_justification_the_policy_refuses_denies_open_and_holds() {
    let sandbox = Sandbox::with_customers("justification");
    let ben = sandbox.ingest(&line(BEN, "ben's prompt"));
    let open_with = |ticket: &str, policy: Option<&str>| {
        sandbox.run_under(
            policy,
            &[
                "open",
                "--record",
                &ben[0],
                "--purpose",
                "troubleshooting",
                "--ticket",
                ticket,
                "--steward",
                "sam.steward",
            ],
        )
    };
    let short = open_with("x", None);
    assert_eq!(short.code, 3, "{}", short.stderr);
    assert!(short.stderr.contains("at least 4"), "{}", short.stderr);
    let hidden = open_with("INC-20\u{200B}41", None);
    assert_eq!(hidden.code, 3, "{}", hidden.stderr);
    assert!(
        hidden.stderr.contains("U+200B at character 7"),
        "{}",
        hidden.stderr
    );
    let place = |reason: &str, policy: Option<&str>| {
        sandbox.run_under(
            policy,
            &[
                "hold",
                "place",
                "--customer",
                BEN,
                "--reason",
                reason,
                "--by",
                "counsel.kim",
                "--review-by",
                "2100-01-01T00:00:00Z",
            ],
        )
    };
    let vague = place("n/a", None);
    assert_eq!(vague.code, 2, "{}", vague.stderr);
    assert!(vague.stderr.contains("at least 4"), "{}", vague.stderr);
    let tagged = place("CASE-17\u{E0041}", None);
    assert_eq!(tagged.code, 2, "{}", tagged.stderr);
    assert!(tagged.stderr.contains("U+E0041"), "{}", tagged.stderr);

    let policy = sandbox.path("tickets.toml");
    let bundled = include_str!("../../../examples/coder-model.toml");
    fs::write(
        &policy,
        bundled.replace(
            "min-letters-or-digits = 4",
            "min-letters-or-digits = 4\npattern = \"^(INC|CASE)-[0-9]+\"",
        ),
    )
    .unwrap();
    let policy = policy.to_str().unwrap();
    let prose = open_with("customer reported timeouts", Some(policy));
    assert_eq!(prose.code, 3, "{}", prose.stderr);
    assert!(
        prose.stderr.contains("^(INC|CASE)-[0-9]+"),
        "{}",
        prose.stderr
    );
    assert_eq!(open_with("INC-2041 timeouts", Some(policy)).code, 0);
    let prose_hold = place("litigation hold", Some(policy));
    assert_eq!(prose_hold.code, 2, "{}", prose_hold.stderr);
    assert_eq!(place("CASE-17 litigation hold", Some(policy)).code, 0);
    // Nothing else was placed.
    assert_eq!(
        sandbox.json(&["hold", "list"]).as_array().map(Vec::len),
        Some(1)
    );
}

/// A request line with its own record id (UUID v7), numbered `n`.
fn line_with_id(n: u32, customer: &str, body: &str) -> String {
    format!(
        "{}\n",
        serde_json::json!({
            "id": format!("01932c4e-0000-7000-8000-{n:012x}"),
            "customer": customer,
            "body": body,
        })
    )
}

/// Issue 18 item 10: a kill mid-ingest left lines stored, and a rerun duplicated them. Lines
/// with an id are stored once: a rerun stores what is missing and reports the rest skipped.
#[test]
fn ingest_with_ids_is_idempotent_and_a_rerun_completes_the_file() {
    let sandbox = Sandbox::with_customers("ingest-ids");
    let lines: Vec<String> = (1..=6)
        .map(|n| {
            line_with_id(
                n,
                if n % 2 == 0 { BEN } else { ADA },
                &format!("prompt {n}"),
            )
        })
        .collect();
    // A run that stopped after three lines (as a kill -9 would leave it)...
    let first = sandbox.run_with_input(&["ingest", "--json"], &lines[..3].concat());
    assert_eq!(first.code, 0, "{}", first.stderr);
    let stored: Value = serde_json::from_str(&first.stdout()).unwrap();
    assert_eq!(stored.as_array().map(Vec::len), Some(3));
    assert_eq!(stored[0]["record"], "01932c4e-0000-7000-8000-000000000001");
    // ...then the whole file: the three missing lines are stored, the others skipped.
    let rerun = sandbox.run_with_input(&["ingest", "--json"], &lines.concat());
    assert_eq!(rerun.code, 0, "{}", rerun.stderr);
    let stored: Value = serde_json::from_str(&rerun.stdout()).unwrap();
    let ids: Vec<&str> = stored
        .as_array()
        .unwrap()
        .iter()
        .map(|record| record["record"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "01932c4e-0000-7000-8000-000000000004",
            "01932c4e-0000-7000-8000-000000000005",
            "01932c4e-0000-7000-8000-000000000006",
        ]
    );
    assert!(
        rerun.stderr.contains("3 lines already stored, skipped"),
        "{}",
        rerun.stderr
    );
    // Once more: nothing is stored, everything is reported skipped, nothing is duplicated.
    let again = sandbox.run_with_input(&["ingest"], &lines.concat());
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stderr.contains("sealed and stored 0 records"),
        "{}",
        again.stderr
    );
    assert!(
        again.stderr.contains("6 lines already stored, skipped"),
        "{}",
        again.stderr
    );
    assert_eq!(sandbox.json(&["sweep", "--plan"])["evaluated"], 6);
    // The stored record opens, under its own id.
    let opened = sandbox.open(
        "01932c4e-0000-7000-8000-000000000002",
        "troubleshooting",
        "sam.steward",
    );
    assert_eq!(opened.code, 0, "{}", opened.stderr);
    assert!(opened.stdout().contains("prompt 2"), "{}", opened.stdout());
}

#[test]
fn ingest_lines_without_an_id_still_work_beside_lines_with_one() {
    let sandbox = Sandbox::with_customers("ingest-mixed");
    let input = format!(
        "{}{}{}",
        line_with_id(1, ADA, "with an id"),
        line(BEN, "without an id"),
        line_with_id(2, BEN, "with an id too")
    );
    let first = sandbox.ingest(&input);
    assert_eq!(first.len(), 3);
    assert_eq!(first[0], "01932c4e-0000-7000-8000-000000000001");
    // A rerun skips the lines with ids; the line without one has no id to be found by, so it
    // is stored again, as the command's help says.
    let rerun = sandbox.run_with_input(&["ingest", "--json"], &input);
    assert_eq!(rerun.code, 0, "{}", rerun.stderr);
    let stored: Value = serde_json::from_str(&rerun.stdout()).unwrap();
    assert_eq!(stored.as_array().map(Vec::len), Some(1));
    assert_eq!(stored[0]["customer"], BEN);
    assert!(
        rerun.stderr.contains("2 lines already stored, skipped"),
        "{}",
        rerun.stderr
    );
    assert_eq!(sandbox.json(&["sweep", "--plan"])["evaluated"], 4);
}

#[test]
fn ingest_refuses_an_id_twice_or_an_id_stored_for_another_customer() {
    let sandbox = Sandbox::with_customers("ingest-bad-ids");
    let twice = format!("{}{}", line_with_id(1, ADA, "a"), line_with_id(1, ADA, "b"));
    let run = sandbox.run_with_input(&["ingest"], &twice);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("line 2"), "{}", run.stderr);
    assert!(run.stderr.contains("on line 1 too"), "{}", run.stderr);
    sandbox.ingest(&line_with_id(7, ADA, "ada's"));
    let taken = sandbox.run_with_input(&["ingest"], &line_with_id(7, BEN, "ben's"));
    assert_eq!(taken.code, 2, "{}", taken.stderr);
    assert!(
        taken.stderr.contains("another customer"),
        "{}",
        taken.stderr
    );
    let not_v7 =
        line(ADA, "x").replacen('{', "{\"id\":\"3f2b8c1e-4d5a-4b6c-8d7e-9f0a1b2c3d4e\",", 1);
    let run = sandbox.run_with_input(&["ingest"], &not_v7);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("version 7"), "{}", run.stderr);
    assert_eq!(sandbox.json(&["sweep", "--plan"])["evaluated"], 1);
}

/// A long ingest says how far it got as it goes, so a killed run's progress is known.
#[test]
fn ingest_reports_its_progress_as_records_commit() {
    let sandbox = Sandbox::with_customers("ingest-progress");
    let input: String = (1..=250)
        .map(|n| line_with_id(n, ADA, &format!("prompt {n}")))
        .collect();
    let run = sandbox.run_with_input(&["ingest", "--json"], &input);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for count in [100, 200] {
        let report = format!("committed {count} of 250 records; every line up to line ");
        assert!(run.stderr.contains(&report), "{}", run.stderr);
    }
    assert!(!run.stderr.contains("committed 300"), "{}", run.stderr);
}

// Changed with issue 18: the sweep used to be executed `--at` a future instant; it now runs
// at now (the relationship's end makes the logs due at once), and the hold is named.
#[test]
fn export_reports_a_planned_record_it_could_not_export() {
    let sandbox = Sandbox::with_customers("export-report");
    sandbox.customer_sets_consent(ADA, "shared");
    let records = sandbox.ingest(&format!(
        "{}{}",
        line(ADA, "kept intact"),
        line(ADA, "altered on disk")
    ));
    // Alter the second record's body in steward.db: its header still plans, its body no
    // longer authenticates when the job runs.
    let conn = rusqlite::Connection::open(sandbox.store().join("steward.db")).unwrap();
    let mut sealed: Vec<u8> = conn
        .query_row(
            "SELECT sealed FROM records WHERE id = ?1",
            [id_bytes(&records[1])],
            |row| row.get(0),
        )
        .unwrap();
    *sealed.last_mut().unwrap() ^= 1;
    conn.execute(
        "UPDATE records SET sealed = ?2 WHERE id = ?1",
        rusqlite::params![id_bytes(&records[1]), sealed],
    )
    .unwrap();
    drop(conn);

    let out = sandbox.path("report.jsonl");
    let printed = sandbox.ok(&[
        "export",
        "training",
        "--scope",
        "shared",
        "--out",
        out.to_str().unwrap(),
        "--dangerous-plaintext",
    ]);
    assert!(
        printed.contains(&format!(
            "planned but not exported: 1 record\n  {} (tampered)\n",
            records[1]
        )),
        "{printed}"
    );
    assert!(
        printed.contains("0 that could not be evaluated"),
        "{printed}"
    );
    assert_eq!(read_lines(&out).len(), 1);
    let manifest = read_lines(&sandbox.path("report.jsonl.manifest.jsonl"));
    assert_eq!(manifest.len(), 3);
    assert_eq!(manifest[1]["record"], records[1].as_str());
    assert_eq!(manifest[1]["not_exported"], "tampered");
    assert_eq!(manifest[2]["matches_plan"], false);
}

#[test]
fn sweep_execute_deletes_and_then_open_is_refused() {
    let sandbox = Sandbox::with_customers("sweep");
    let ada = sandbox.ingest(&line(ADA, "ada's prompt"));
    let ben = sandbox.ingest(&line(BEN, "ben's prompt"));
    let held = sandbox.json(&[
        "hold",
        "place",
        "--customer",
        BEN,
        "--reason",
        "CASE-17 litigation hold",
        "--by",
        "counsel.kim",
        "--review-by",
        "2100-01-01T00:00:00Z",
    ]);
    assert_eq!(held["id"], 1);
    for customer in [ADA, BEN] {
        sandbox.ok(&["customer", "end", "--customer", customer]);
    }
    // From the end on, the data serves nothing (logs.retention), even before the sweep.
    let ended = sandbox.open(&ada[0], "troubleshooting", "sam.steward");
    assert_eq!(ended.code, 3);
    assert!(
        ended.stderr.contains("[logs.retention]"),
        "{}",
        ended.stderr
    );

    let plan = sandbox.json(&["sweep", "--plan", "--at", LATER]);
    assert_eq!(plan["deletions"].as_array().unwrap().len(), 1);
    assert_eq!(plan["deletions"][0]["record"]["id"], ada[0].as_str());
    assert_eq!(plan["held"], 1);
    assert_eq!(plan["shreds"][0]["customer"], ADA);
    assert_eq!(plan["shreds_withheld"][0]["customer"], BEN);
    assert_eq!(plan["shreds_withheld"][0]["hold"], 1);
    let text = sandbox.ok(&["sweep", "--plan", "--at", LATER]);
    assert!(text.contains("1 to delete"), "{text}");
    assert!(
        text.contains("key shred withheld: legal hold hold-1 stands"),
        "{text}"
    );

    let report = sandbox.json(&["sweep", "--execute"]);
    assert_eq!(report["deleted"], serde_json::json!([ada[0]]));
    assert_eq!(report["shredded"], serde_json::json!([ADA]));
    assert_eq!(report["kept_by_holds"][0]["hold"], 1);
    assert_eq!(report["kept_by_holds"][0]["records"], 1);
    assert_eq!(report["shreds_withheld"][0]["customer"], BEN);
    assert_eq!(report["shreds_withheld"][0]["hold"], 1);
    let gone = sandbox.open(&ada[0], "troubleshooting", "sam.steward");
    assert_ne!(gone.code, 0);
    assert!(gone.stdout.is_empty());
    assert!(gone.stderr.contains("not in the store"), "{}", gone.stderr);

    // The hold kept Ben's record, and his keys; released, the next sweep deletes it.
    assert_eq!(sandbox.json(&["hold", "list"])[0]["standing"], true);
    sandbox.ok(&[
        "hold",
        "release",
        "--id",
        "hold-1",
        "--by",
        "counsel.kim",
        "--reason",
        "CASE-17 settled",
    ]);
    let report = sandbox.json(&["sweep", "--execute"]);
    assert_eq!(report["deleted"], serde_json::json!([ben[0]]));
    assert_eq!(report["shredded"], serde_json::json!([BEN]));
    assert_eq!(sandbox.json(&["sweep", "--plan"])["evaluated"], 0);
    sandbox.ok(&["audit", "verify"]);
}

#[test]
fn sweep_execute_refuses_an_instant_and_only_the_plan_looks_ahead() {
    let sandbox = Sandbox::with_customers("sweep-now");
    let ada = sandbox.ingest(&line(ADA, "ada's prompt"));
    sandbox.ok(&[
        "hold",
        "place",
        "--customer",
        BEN,
        "--reason",
        "CASE-18 discovery",
        "--by",
        "counsel.kim",
        "--review-by",
        "2098-01-01T00:00:00Z",
    ]);
    // A careless script asks for the future: refused as usage, nothing deleted or shredded.
    let refused = sandbox.run(&["sweep", "--execute", "--at", LATER]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.stdout.is_empty());
    assert!(
        refused.stderr.contains("`sweep --execute` runs at now"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("sweep --plan --at TIME"),
        "{}",
        refused.stderr
    );
    // Ada's relationship lasts: looking ahead shows nothing due, nor does executing delete.
    let plan = sandbox.json(&["sweep", "--plan", "--at", LATER]);
    assert_eq!(plan["planned_at"], LATER);
    assert!(plan["deletions"].as_array().unwrap().is_empty());
    // Looking ahead shows the hold due for review by then, still standing.
    assert_eq!(plan["holds_due_for_review"][0]["hold"], 1);
    assert_eq!(
        plan["holds_due_for_review"][0]["status"],
        "standing, review due since 2098-01-01T00:00:00Z"
    );
    let text = sandbox.ok(&["sweep", "--plan", "--at", LATER]);
    assert!(
        text.contains("hold-1 of customer 0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a02 stands, review due since 2098-01-01T00:00:00Z"),
        "{text}"
    );
    let now = sandbox.json(&["sweep", "--plan"]);
    assert!(now["holds_due_for_review"].as_array().unwrap().is_empty());
    let report = sandbox.json(&["sweep", "--execute"]);
    assert!(report["deleted"].as_array().unwrap().is_empty());
    assert!(report["shredded"].as_array().unwrap().is_empty());
    assert_eq!(
        sandbox.open(&ada[0], "troubleshooting", "sam.steward").code,
        0
    );
}

#[test]
fn a_hold_past_its_review_date_still_stands_and_is_listed_as_due() {
    let sandbox = Sandbox::with_customers("hold-due");
    let ben = sandbox.ingest(&line(BEN, "ben's prompt"));
    let soon = steward::vocabulary::Timestamp::from_unix_nanos(
        steward::vocabulary::Timestamp::now().unix_nanos() + 1_000_000_000,
    )
    .to_string();
    // `--expires` is the old name of `--review-by`, kept for scripts.
    sandbox.ok(&[
        "hold",
        "place",
        "--customer",
        BEN,
        "--reason",
        "CASE-19 litigation hold",
        "--by",
        "counsel.kim",
        "--expires",
        &soon,
    ]);
    assert!(
        sandbox
            .json(&["hold", "list", "--due"])
            .as_array()
            .unwrap()
            .is_empty()
    );
    std::thread::sleep(std::time::Duration::from_millis(1_500));
    sandbox.ok(&["customer", "end", "--customer", BEN]);
    let due = sandbox.json(&["hold", "list", "--due"]);
    assert_eq!(due.as_array().unwrap().len(), 1);
    assert_eq!(due[0]["hold"]["id"], 1);
    assert_eq!(due[0]["standing"], true);
    assert_eq!(due[0]["review_due"], true);
    let table = sandbox.ok(&["hold", "list"]);
    assert!(table.contains("REVIEW BY"), "{table}");
    assert!(
        table.contains(&format!("standing, review due since {soon}")),
        "{table}"
    );
    // Past its review date the hold still keeps Ben's record and his keys.
    let report = sandbox.json(&["sweep", "--execute"]);
    assert!(report["deleted"].as_array().unwrap().is_empty());
    assert_eq!(report["shreds_withheld"][0]["hold"], 1);
    assert_eq!(report["holds_due_for_review"][0]["hold"], 1);
    let plan = sandbox.json(&["sweep", "--plan"]);
    assert_eq!(plan["holds_due_for_review"][0]["hold"], 1);
    // A review keeps it with a new date; it is no longer due.
    sandbox.ok(&[
        "hold",
        "review",
        "--id",
        "hold-1",
        "--by",
        "counsel.kim",
        "--reason",
        "CASE-19 still open",
        "--review-by",
        "2100-01-01T00:00:00Z",
    ]);
    assert!(
        sandbox
            .json(&["hold", "list", "--due"])
            .as_array()
            .unwrap()
            .is_empty()
    );
    let still = sandbox.json(&["sweep", "--execute"]);
    assert!(still["deleted"].as_array().unwrap().is_empty());
    assert_eq!(sandbox.json(&["sweep", "--plan"])["evaluated"], 1);
    let _ = ben;
}

#[test]
fn audit_verify_detects_entries_removed_after_a_kept_checkpoint() {
    let sandbox = Sandbox::with_customers("audit");
    let records = sandbox.ingest(&line(BEN, "hello"));
    let verified = sandbox.json(&["audit", "verify"]);
    assert_eq!(verified["verified"], true);
    assert_eq!(verified["checkpoint"], Value::Null);
    // An old copy of the store: what someone restores to drop the newest audit entries.
    let database = sandbox.store().join("steward.db");
    let old_copy = sandbox.path("steward.db.old");
    fs::copy(&database, &old_copy).unwrap();
    let entries = sandbox.audit_entries();

    let opened = sandbox.open(&records[0], "troubleshooting", "sam.steward");
    assert_eq!(opened.code, 0, "{}", opened.stderr);
    let kept = sandbox.path("checkpoint.json");
    let checkpoint = sandbox.json(&["audit", "checkpoint", "--out", kept.to_str().unwrap()]);
    assert_eq!(checkpoint["entries"], entries + 1);
    let verified = sandbox.json(&["audit", "verify"]);
    assert_eq!(verified["checkpoint"]["entries"], entries + 1);
    sandbox.ok(&["audit", "verify", "--checkpoint", kept.to_str().unwrap()]);

    // Roll the store back: the chain alone still verifies (it is a valid, shorter chain, and
    // its stored checkpoint went with it), but not against the checkpoint kept elsewhere.
    for companion in ["steward.db-wal", "steward.db-shm"] {
        let _ = fs::remove_file(sandbox.store().join(companion));
    }
    fs::copy(&old_copy, &database).unwrap();
    assert_eq!(sandbox.audit_entries(), entries);
    let rolled_back = sandbox.run(&["audit", "verify", "--checkpoint", kept.to_str().unwrap()]);
    assert_eq!(rolled_back.code, 1, "{}", rolled_back.stderr);
    assert!(
        rolled_back.stderr.contains("newest entries were removed"),
        "{}",
        rolled_back.stderr
    );

    // A checkpoint signed by another store's key does not verify here.
    let other = Sandbox::with_customers("audit-other");
    let foreign = other.path("foreign.json");
    other.ok(&["audit", "checkpoint", "--out", foreign.to_str().unwrap()]);
    let mismatch = sandbox.run(&["audit", "verify", "--checkpoint", foreign.to_str().unwrap()]);
    assert_eq!(mismatch.code, 1);
    assert!(mismatch.stderr.contains("signature"), "{}", mismatch.stderr);

    let not_json = sandbox.run(&[
        "audit",
        "verify",
        "--checkpoint",
        old_copy.to_str().unwrap(),
    ]);
    assert_eq!(not_json.code, 2);
    assert!(
        not_json.stderr.contains("not a checkpoint"),
        "{}",
        not_json.stderr
    );
}

#[test]
fn check_prints_the_decision_and_exits_3_on_deny() {
    let sandbox = Sandbox::with_customers("check");
    // Collected after the relationships started, which start when they are recorded.
    let collected = now();
    let allowed = sandbox.run(&[
        "check",
        "--actor",
        "steward:sam.steward",
        "--action",
        "open:troubleshooting",
        "--category",
        "llm-request-log",
        "--owner",
        BEN,
        "--collected",
        &collected,
        "--justification",
        "INC-1",
    ]);
    assert_eq!(allowed.code, 0, "{}", allowed.stderr);
    // The decisive clause in brackets, the supporting ones apart.
    assert_eq!(
        allowed.stdout(),
        "allow [logs.access] (supporting: logs.purposes, logs.encrypted); must audit this \
         access\n"
    );

    let denied = sandbox.run(&[
        "check",
        "--json",
        "--actor",
        "service",
        "--action",
        "use:marketing",
        "--category",
        "email",
        "--owner",
        BEN,
        "--collected",
        &collected,
    ]);
    assert_eq!(denied.code, 3);
    let decision: Value = serde_json::from_slice(&denied.stdout).unwrap();
    assert_eq!(decision["effect"], "deny");
    assert_eq!(decision["decisive"], "use.purposes");
    assert_eq!(decision["supporting"], serde_json::json!([]));

    let request = serde_json::json!({
        "actor": "pipeline",
        "action": "train:shared",
        "category": "llm-request-log",
        "owner": BEN,
        "collected": collected,
    })
    .to_string();
    let from_stdin = sandbox.run_with_input(&["check", "--request", "-"], &request);
    assert_eq!(from_stdin.code, 3);
    assert!(
        from_stdin.stdout().contains("training.default-off"),
        "{}",
        from_stdin.stdout()
    );

    let bad = sandbox.run(&["check", "--request", r#"{"actor": "robot"}"#]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("invalid request"), "{}", bad.stderr);
    let bad_actor = sandbox.run(&[
        "check",
        "--actor",
        "robot",
        "--action",
        "keep",
        "--category",
        "email",
        "--owner",
        BEN,
        "--collected",
        &collected,
    ]);
    assert_eq!(bad_actor.code, 2);
    assert!(
        bad_actor.stderr.contains("unknown actor `robot`"),
        "{}",
        bad_actor.stderr
    );
}

#[test]
fn customer_end_schedules_corrects_and_cancels_and_an_end_in_force_is_final() {
    let sandbox = Sandbox::with_customers("customer-end");
    // Nothing takes effect before it is recorded.
    let backdated = sandbox.run(&[
        "customer",
        "start",
        "--customer",
        "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a03",
        "--at",
        "2025-01-01T00:00:00Z",
    ]);
    assert_eq!(backdated.code, 2);
    assert!(
        backdated.stderr.contains("cannot take effect earlier"),
        "{}",
        backdated.stderr
    );
    let past_end = sandbox.run(&[
        "customer",
        "end",
        "--customer",
        ADA,
        "--at",
        "2025-01-01T00:00:00Z",
    ]);
    assert_eq!(past_end.code, 2, "{}", past_end.stderr);

    // A scheduled end: recorded now, in force later, and the relationship active until then.
    let scheduled = sandbox.json(&["customer", "end", "--customer", ADA, "--at", LATER]);
    assert_eq!(scheduled["relationship"], "end scheduled");
    assert_eq!(scheduled["ended_at"], LATER);
    let active = sandbox.open_check(ADA);
    assert_eq!(active.code, 0, "{}", active.stderr);
    // Another end names the scheduled one; it can be corrected or cancelled instead.
    let again = sandbox.run(&["customer", "end", "--customer", ADA]);
    assert_eq!(again.code, 2);
    assert!(
        again.stderr.contains("correct or cancel"),
        "{}",
        again.stderr
    );
    let corrected = sandbox.json(&[
        "customer",
        "end",
        "--customer",
        ADA,
        "--correct-to",
        "2098-01-01T00:00:00Z",
    ]);
    assert_eq!(corrected["relationship"], "end corrected");
    assert_eq!(corrected["ended_at"], "2098-01-01T00:00:00Z");
    let cancelled = sandbox.json(&["customer", "end", "--customer", ADA, "--cancel"]);
    assert_eq!(cancelled["relationship"], "end cancelled");
    assert_eq!(cancelled["ended_at"], Value::Null);

    // Ended now: final, and the data serves nothing from then on.
    let ended = sandbox.json(&["customer", "end", "--customer", ADA]);
    assert_eq!(ended["relationship"], "ended");
    assert_eq!(ended["ended_at"], ended["recorded_at"]);
    for change in [&["--cancel"][..], &["--correct-to", LATER][..]] {
        let mut args = vec!["customer", "end", "--customer", ADA];
        args.extend_from_slice(change);
        let refused = sandbox.run(&args);
        assert_eq!(refused.code, 2);
        assert!(refused.stderr.contains("is final"), "{}", refused.stderr);
    }
    assert_eq!(sandbox.open_check(ADA).code, 3);
    let help = sandbox.ok(&["customer", "end", "--help"]);
    assert!(help.contains("scheduled"), "{help}");
}

#[test]
fn a_withdrawal_now_cancels_a_scheduled_opt_in_and_the_history_shows_it() {
    let sandbox = Sandbox::with_customers("consent-cancel");
    let consent = |extra: &[&str]| {
        let mut args = vec![
            "consent",
            "set",
            "--customer",
            ADA,
            "--actor",
            "customer",
            "--channel",
            "account-settings",
        ];
        args.extend_from_slice(extra);
        sandbox.json(&args)
    };
    let scheduled = consent(&["--level", "shared", "--effective", LATER]);
    assert_eq!(scheduled["effective"], LATER);
    // Withdrawn now: in force now, and the opt-in never takes effect.
    let withdrawal = consent(&["--level", "none"]);
    assert_eq!(withdrawal["level"], "none");
    let later = sandbox.json(&["consent", "show", "--customer", ADA, "--at", LATER]);
    assert_eq!(later["level"], "none");
    let history = sandbox.json(&["consent", "history", "--customer", ADA]);
    assert_eq!(history[0]["receipt"], scheduled["receipt"]);
    assert_eq!(history[0]["cancelled_by"], withdrawal["receipt"]);
    assert_eq!(history[1]["receipt"], withdrawal["receipt"]);
    assert_eq!(history[1].get("cancelled_by"), None);
    let table = sandbox.ok(&["consent", "history", "--customer", ADA]);
    assert!(table.contains("CANCELLED BY"), "{table}");
    assert!(
        table.contains(&format!("receipt {}", withdrawal["receipt"])),
        "{table}"
    );
}

/// The current instant as the command prints and parses it (RFC 3339).
fn now() -> String {
    steward::vocabulary::Timestamp::now().to_string()
}

#[test]
fn interactive_use_needs_the_customers_opt_in_recorded_with_a_receipt_and_its_history() {
    let sandbox = Sandbox::with_customers("interactive");
    // Collected after the relationships started, which start when they are recorded.
    let collected = now();
    let check_interactive = |owner: &str, purpose: &str| {
        sandbox.run(&[
            "check",
            "--actor",
            "service",
            "--action",
            &format!("use:{purpose}"),
            "--category",
            "email",
            "--owner",
            owner,
            "--collected",
            &collected,
        ])
    };
    let before = check_interactive(ADA, "interactive-features");
    assert_eq!(before.code, 3, "{}", before.stderr);
    assert_eq!(
        before.stdout(),
        "deny [use.purposes]: the customer has not opted in to interactive features\n"
    );

    // Who acted and through which channel are stated, never defaulted; and a choice is named.
    for args in [
        &["--opt-in", "--channel", "account-settings"][..],
        &["--opt-in", "--actor", "customer"][..],
        &["--actor", "customer", "--channel", "api"][..],
        &[
            "--opt-in",
            "--withdraw",
            "--actor",
            "customer",
            "--channel",
            "api",
        ][..],
    ] {
        let mut command = vec!["consent", "interactive", "--customer", ADA];
        command.extend_from_slice(args);
        let refused = sandbox.run(&command);
        assert_eq!(refused.code, 2, "{args:?}: {}", refused.stderr);
    }

    let receipt = sandbox.json(&[
        "consent",
        "interactive",
        "--customer",
        ADA,
        "--opt-in",
        "--actor",
        "customer",
        "--channel",
        "account-settings",
    ]);
    assert_eq!(receipt["choice"], "opted-in");
    assert_eq!(receipt["previous_choice"], "opted-out");
    assert_eq!(receipt["actor"], "customer");
    assert_eq!(receipt["channel"], "account-settings");
    assert_eq!(receipt["recorded_at"], receipt["effective"]);
    let allowed = check_interactive(ADA, "interactive-features");
    assert_eq!(allowed.code, 0, "{}", allowed.stderr);
    assert!(
        allowed.stdout().starts_with("allow [use.purposes]"),
        "{}",
        allowed.stdout()
    );
    // Ben never chose.
    assert_eq!(check_interactive(BEN, "interactive-features").code, 3);

    let withdrawn = sandbox.ok(&[
        "consent",
        "interactive",
        "--customer",
        ADA,
        "--withdraw",
        "--actor",
        "admin:dana.support:TICKET-9 asked by phone",
        "--channel",
        "support-request",
    ]);
    assert!(
        withdrawn.contains("`opted-in` -> `opted-out`"),
        "{withdrawn}"
    );
    assert_eq!(check_interactive(ADA, "interactive-features").code, 3);
    // Other service purposes never needed the opt-in.
    assert_eq!(check_interactive(ADA, "customer-care").code, 0);

    let history = sandbox.json(&["consent", "interactive-history", "--customer", ADA]);
    let entries = history.as_array().unwrap();
    assert_eq!(entries.len(), 2, "{history}");
    assert_eq!(entries[1]["receipt"]["choice"], "opted-out");
    assert_eq!(
        entries[1]["receipt"]["actor"],
        "admin:dana.support:TICKET-9 asked by phone"
    );
    let table = sandbox.ok(&["consent", "interactive-history", "--customer", ADA]);
    assert!(table.starts_with("RECEIPT"), "{table}");
    assert_eq!(table.lines().count(), 3, "{table}");
}

#[test]
fn a_customer_without_any_relationship_is_refused_for_that_not_for_retention() {
    let sandbox = Sandbox::with_customers("no-relationship");
    let stranger = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a99";
    let refused = sandbox.run(&[
        "check",
        "--actor",
        "service",
        "--action",
        "use:customer-care",
        "--category",
        "email",
        "--owner",
        stranger,
        "--collected",
        "2025-06-01T00:00:00Z",
    ]);
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert_eq!(
        refused.stdout(),
        "deny [use.purposes]: the customer has no relationship on record: nothing the policy \
         grants applies to their data\n"
    );
}

/// The JSON lines of an age file, decrypted with `identity`.
fn decrypt_lines(path: &Path, identity: &age::x25519::Identity) -> Vec<Value> {
    use std::io::Read;
    let file = fs::read(path).unwrap();
    assert!(file.starts_with(b"age-encryption.org/v1"));
    let mut reader = age::Decryptor::new(file.as_slice())
        .unwrap()
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .unwrap();
    let mut text = String::new();
    reader.read_to_string(&mut text).unwrap();
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn read_lines(path: &Path) -> Vec<Value> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// `audit checkpoint`, `audit verify` and `receipt issue` on the PostgreSQL store several nodes
/// share, with the directory's keys. Built with the `postgres` feature only (the command has no
/// `--postgres` without it); needs `STEWARD_POSTGRES` (set by `.ci/run`) and is ignored
/// without it (`build.rs` turns on `cfg(pg_tests)` when it is set).
#[cfg(feature = "postgres")]
#[test]
#[cfg_attr(
    not(pg_tests),
    ignore = "needs STEWARD_POSTGRES: a PostgreSQL connection string"
)]
fn audit_and_receipt_commands_work_on_a_shared_postgres_store() {
    use steward::{
        consent::{Channel, ConsentActor, ConsentChange},
        vocabulary::{CustomerId, Timestamp, TrainingLevel},
    };
    use steward_store::Effective;

    let connection = std::env::var("STEWARD_POSTGRES").unwrap();
    let schema = format!("steward_cli_test_{}", std::process::id());
    let mut admin = postgres::Client::connect(&connection, postgres::NoTls).unwrap();
    admin
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .unwrap();
    let shared = [
        "--postgres",
        connection.as_str(),
        "--pg-schema",
        schema.as_str(),
    ];
    let sandbox = Sandbox::new("postgres");
    sandbox.ok(&["init"]);
    // A schema without a store is an error, not an empty chain, and nothing is created.
    let missing = sandbox.run(&[&["audit", "verify"][..], &shared[..]].concat());
    assert_eq!(missing.code, 1, "{}", missing.stderr);
    assert!(
        missing.stderr.contains("no Steward store"),
        "{}",
        missing.stderr
    );
    // A node with this directory's keys creates the store and writes to the chain.
    let read_key = |name: &str| {
        let text = fs::read_to_string(sandbox.store().join(name)).unwrap();
        (0..64)
            .step_by(2)
            .map(|at| u8::from_str_radix(&text.trim()[at..at + 2], 16).unwrap())
            .collect::<Vec<u8>>()
    };
    let keys = steward_store::StoreKeys::new(
        "master-1".parse().unwrap(),
        &read_key("master.key"),
        &read_key("audit.key"),
    )
    .unwrap();
    let config = steward_store::pg::PgConfig::new(&connection)
        .unwrap()
        .with_schema(&schema)
        .unwrap();
    let store = steward_store::pg::PgStore::create(&config, &keys).unwrap();
    let node = steward_store::open_vault(&store, &keys, steward::Policy::coder_model()).unwrap();
    node.add_steward(
        "sam.steward".parse().unwrap(),
        "dana.admin".parse().unwrap(),
    )
    .unwrap();
    let checkpoint = sandbox.json(&[&["audit", "checkpoint"][..], &shared[..]].concat());
    assert_eq!(checkpoint["entries"], 1);
    let verified = sandbox.json(&[&["audit", "verify"][..], &shared[..]].concat());
    assert_eq!(verified["verified"], true);
    assert_eq!(verified["entries"], 1);
    assert_eq!(verified["checkpoint"]["entries"], 1);
    // The directory's own store is another chain: it has no checkpoint.
    assert_eq!(
        sandbox.json(&["audit", "verify"])["checkpoint"],
        Value::Null
    );
    // Receipts of a customer whose consent a node recorded on the shared store: issued from
    // its fact log, signed with the directory's receipt key, verified offline.
    let ada: CustomerId = ADA.parse().unwrap();
    node.update_facts(|facts| facts.start_relationship(ada, Effective::Now))
        .unwrap()
        .unwrap();
    let change = ConsentChange::new(
        ada,
        TrainingLevel::Shared,
        Timestamp::now(),
        ConsentActor::Customer,
        Channel::AccountSettings,
        node.policy().version().clone(),
    );
    node.update_facts(|facts| facts.record_consent(change))
        .unwrap()
        .unwrap();
    let out = sandbox.path("ada-shared-receipts.json");
    let issued = sandbox.json(
        &[
            &[
                "receipt",
                "issue",
                "--customer",
                ADA,
                "--out",
                out.to_str().unwrap(),
            ][..],
            &shared[..],
        ]
        .concat(),
    );
    assert_eq!(issued["receipts"], 1);
    let verified = sandbox.json(&["receipt", "verify", out.to_str().unwrap()]);
    assert_eq!(verified["verified"], 1);
    assert_eq!(verified["receipts"][0]["customer"], ADA);
    // The directory's embedded store never heard of her consent.
    let embedded = sandbox.run(&["receipt", "issue", "--customer", ADA]);
    assert_ne!(embedded.code, 0, "{}", embedded.stderr);
    // Another directory's keys are not the shared store's: refused as a failure.
    let other = Sandbox::new("postgres-other");
    other.ok(&["init"]);
    let refused = other.run(&[&["audit", "verify"][..], &shared[..]].concat());
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("master key"), "{}", refused.stderr);
    admin
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .unwrap();
}

#[test]
fn audit_verify_names_an_edited_consent_entry_and_the_store_serves_nothing() {
    let sandbox = Sandbox::with_customers("fact-edit");
    let records = sandbox.ingest(&line(BEN, "hello"));
    sandbox.customer_sets_consent(ADA, "shared");
    let verified = sandbox.json(&["audit", "verify"]);
    let facts = verified["facts"]["entries"].as_u64().unwrap();
    assert!(facts >= 3, "{verified}");

    // A DBA raises the consent in steward.db, keeping the entry valid JSON.
    let conn = rusqlite::Connection::open(sandbox.store().join("steward.db")).unwrap();
    let edited = conn
        .execute(
            "UPDATE fact_log SET event = replace(event, '\"shared\"', '\"open-weight\"') \
             WHERE event LIKE '%\"kind\":\"consent\"%'",
            [],
        )
        .unwrap();
    assert_eq!(edited, 1);
    let sequence: u64 = conn
        .query_row(
            "SELECT sequence FROM fact_log WHERE event LIKE '%open-weight%'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    drop(conn);

    let refused = sandbox.run(&["audit", "verify"]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains(&format!("fact log is broken at entry {sequence}")),
        "{}",
        refused.stderr
    );
    // Nothing is decided from it: no open, no training export.
    let opened = sandbox.open(&records[0], "troubleshooting", "sam.steward");
    assert_eq!(opened.code, 1, "{}", opened.stderr);
    assert!(opened.stdout.is_empty());
    let export = sandbox.run(&[
        "export",
        "training",
        "--scope",
        "open-weight",
        "--out",
        sandbox.path("open.jsonl").to_str().unwrap(),
        "--dangerous-plaintext",
    ]);
    assert_eq!(export.code, 1, "{}", export.stderr);
}

#[test]
fn a_roster_entry_inserted_or_the_newest_fact_removed_is_found() {
    let sandbox = Sandbox::with_customers("fact-roster");
    let kept = sandbox.path("checkpoint.json");
    sandbox.ok(&["audit", "checkpoint", "--out", kept.to_str().unwrap()]);
    let database = sandbox.store().join("steward.db");

    // A stranger appended to the roster by hand: no audit key, so no valid hash.
    let conn = rusqlite::Connection::open(&database).unwrap();
    let (sequence, hash): (i64, Vec<u8>) = conn
        .query_row(
            "SELECT sequence, hash FROM fact_log ORDER BY sequence DESC LIMIT 1",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    conn.execute(
        "INSERT INTO fact_log (sequence, event, hash) VALUES (?1, ?2, ?3)",
        rusqlite::params![
            sequence + 1,
            r#"{"kind":"steward_added","steward":"mallory"}"#,
            hash
        ],
    )
    .unwrap();
    let refused = sandbox.run(&["audit", "verify"]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains(&format!("fact log is broken at entry {}", sequence + 1)),
        "{}",
        refused.stderr
    );

    // The stranger and the newest genuine entry removed: a valid, shorter log, which only
    // the checkpoint kept outside the store finds.
    conn.execute("DELETE FROM fact_log WHERE sequence >= ?1", [sequence])
        .unwrap();
    drop(conn);
    let shorter = sandbox.run(&["audit", "verify", "--checkpoint", kept.to_str().unwrap()]);
    assert_eq!(shorter.code, 1, "{}", shorter.stderr);
    assert!(
        shorter.stderr.contains("entries were removed"),
        "{}",
        shorter.stderr
    );
}

/// The CLI beside a running server on one `steward.db`: this test process is the server (a
/// vault with a facts follower, sealing, changing consent, adding a customer), and every
/// `steward` command is a second process on the same file. Each opens the other's new
/// records, sees the other's fact changes, and both append to one audit chain that verifies.
#[test]
fn the_cli_works_beside_a_server_process_on_the_same_store() {
    use std::{sync::Arc, time::Instant};

    use steward::{
        consent::{Channel, ConsentActor, ConsentChange},
        logs::{AccessRequest, SealedRecord},
        vocabulary::{CustomerId, DataCategory, Purpose, RecordId, Timestamp, TrainingLevel},
    };
    use steward_store::{SqliteStore, StoreFactsFollower, StoreKeys, StoreVault, open_vault};

    const CAL: &str = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a03";
    let sandbox = Sandbox::with_customers("processes");
    let read_key = |name: &str| {
        let text = fs::read_to_string(sandbox.store().join(name)).unwrap();
        (0..64)
            .step_by(2)
            .map(|at| u8::from_str_radix(&text.trim()[at..at + 2], 16).unwrap())
            .collect::<Vec<u8>>()
    };
    let keys = StoreKeys::new(
        "master-1".parse().unwrap(),
        &read_key("master.key"),
        &read_key("audit.key"),
    )
    .unwrap();
    let store = SqliteStore::open(sandbox.store().join("steward.db"), &keys).unwrap();
    let vault = Arc::new(open_vault(&store, &keys, steward::Policy::coder_model()).unwrap());
    let _follower = StoreFactsFollower::start(Arc::clone(&vault), &store).unwrap();
    let level = |vault: &StoreVault, customer: CustomerId| {
        let facts = vault.facts().unwrap();
        facts
            .consent()
            .unwrap()
            .level_at(customer, Timestamp::now())
    };
    let seal = |customer: CustomerId, body: &str| {
        let now = Timestamp::now();
        let id = RecordId::generate_at(now);
        let record = vault.seal(id, customer, now, body.as_bytes()).unwrap();
        store
            .put_record(&record, DataCategory::LlmRequestLog)
            .unwrap();
        id.to_string()
    };
    let open = |id: &str| {
        let bytes = store.record(id.parse().unwrap()).unwrap().unwrap();
        let request = AccessRequest::with_justification_text(
            "sam.steward".parse().unwrap(),
            Purpose::Troubleshooting,
            "INC-7",
        );
        let plaintext = vault
            .open(&SealedRecord::from_vec(bytes).unwrap(), &request)
            .unwrap();
        String::from_utf8(plaintext.as_bytes().to_vec()).unwrap()
    };
    let change_consent = |customer: CustomerId, to: TrainingLevel| {
        let change = ConsentChange::new(
            customer,
            to,
            Timestamp::now(),
            ConsentActor::Customer,
            Channel::AccountSettings,
            vault.policy().version().clone(),
        );
        vault
            .update_facts(|facts| facts.record_consent(change))
            .unwrap()
            .unwrap();
    };
    let (ada, ben, cal) = (
        ADA.parse::<CustomerId>().unwrap(),
        BEN.parse::<CustomerId>().unwrap(),
        CAL.parse::<CustomerId>().unwrap(),
    );

    // The server changes consent, adds a customer and seals for both, after the CLI's setup.
    change_consent(ada, TrainingLevel::Shared);
    vault
        .update_facts(|facts| facts.start_relationship(cal, Timestamp::now()))
        .unwrap()
        .unwrap();
    let for_ada = seal(ada, "Ada asks");
    let for_cal = seal(cal, "Cal asks");
    // The CLI opens both, and sees the consent the server recorded.
    for (record, body) in [(&for_ada, "Ada asks"), (&for_cal, "Cal asks")] {
        let opened = sandbox.open(record, "troubleshooting", "sam.steward");
        assert_eq!(opened.code, 0, "{}", opened.stderr);
        assert_eq!(opened.stdout(), body);
    }
    let shown = sandbox.json(&["consent", "show", "--customer", ADA]);
    assert!(shown.to_string().contains("shared"), "{shown}");

    // The CLI seals for Ben, whose first data key it issues; the server opens that record
    // (after the CLI's audit entries), then seals for Ben under the same key.
    let by_cli = sandbox.ingest(&line(BEN, "Ben asks"));
    assert_eq!(open(&by_cli[0]), "Ben asks");
    let for_ben = seal(ben, "Ben again");
    assert_eq!(
        sandbox
            .open(&for_ben, "troubleshooting", "sam.steward")
            .stdout(),
        "Ben again"
    );

    // A withdrawal through the CLI reaches the server's next seal.
    sandbox.customer_sets_consent(ADA, "none");
    let deadline = Instant::now() + std::time::Duration::from_secs(5);
    while level(&vault, ada) != TrainingLevel::None {
        assert!(
            Instant::now() < deadline,
            "the server never saw the withdrawal"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let after = seal(ada, "Ada later");
    let header = SealedRecord::from_vec(store.record(after.parse().unwrap()).unwrap().unwrap())
        .unwrap()
        .header()
        .consent();
    assert_eq!(header, TrainingLevel::None);
    assert_eq!(open(&after), "Ada later");

    // One chain, written by both, verifies.
    let verified = sandbox.json(&["audit", "verify"]);
    assert_eq!(verified["verified"], true, "{verified}");
}

#[test]
fn a_checkpoint_after_fact_changes_alone_covers_them() {
    let sandbox = Sandbox::with_customers("fact-checkpoint");
    let first = sandbox.json(&["audit", "checkpoint"]);
    // A consent change adds a fact entry and no audit entry: the audit head is the same.
    sandbox.customer_sets_consent(ADA, "shared");
    let second = sandbox.json(&["audit", "checkpoint"]);
    assert_eq!(second["entries"], first["entries"]);
    assert_eq!(
        second["facts"]["entries"].as_u64().unwrap(),
        first["facts"]["entries"].as_u64().unwrap() + 1
    );
    let verified = sandbox.json(&["audit", "verify"]);
    assert_eq!(
        verified["checkpoint"]["facts"]["entries"],
        second["facts"]["entries"]
    );
}

#[test]
fn ingest_refuses_an_oversized_body_before_storing_any_line() {
    let sandbox = Sandbox::with_customers("ingest-oversized");
    let before = sandbox.audit_entries();
    let oversized = "x".repeat(16 * 1024 * 1024 + 1);
    let input = format!("{}{}", line(BEN, "a valid line"), line(ADA, &oversized));
    let refused = sandbox.run_with_input(&["ingest"], &input);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains("line 2"), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("record limit"),
        "{}",
        refused.stderr
    );
    // Nothing of the input was stored: the valid first line neither.
    let conn = rusqlite::Connection::open(sandbox.store().join("steward.db")).unwrap();
    let records: i64 = conn
        .query_row("SELECT count(*) FROM records", [], |row| row.get(0))
        .unwrap();
    assert_eq!(records, 0);
    assert_eq!(sandbox.audit_entries(), before);
    // The same first line alone is stored: the refusal was the oversized body's.
    assert_eq!(sandbox.ingest(&line(BEN, "a valid line")).len(), 1);
}

/// Parses the JSON lines of `steward audit log --json ...`.
fn audit_log(sandbox: &Sandbox, filters: &[&str]) -> Vec<Value> {
    let mut args = vec!["audit", "log", "--json"];
    args.extend_from_slice(filters);
    sandbox
        .ok(&args)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn audit_log_filters_the_verified_trail_by_steward_customer_purpose_kind_and_time() {
    let sandbox = Sandbox::with_customers("audit-log");
    let ada = sandbox.ingest(&line(ADA, "ada's prompt"));
    let ben = sandbox.ingest(&line(BEN, "ben's prompt"));
    assert_eq!(
        sandbox.open(&ada[0], "troubleshooting", "sam.steward").code,
        0
    );
    let between = now();
    assert_eq!(
        sandbox
            .open(&ben[0], "customer-support", "sam.steward")
            .code,
        0
    );
    assert_eq!(
        sandbox.open(&ada[0], "troubleshooting", "eve.steward").code,
        3
    );

    let all = audit_log(&sandbox, &[]);
    assert_eq!(all.len() as u64, sandbox.audit_entries());
    assert_eq!(all[0]["kind"], "roster");
    let kinds = |lines: &[Value]| -> Vec<String> {
        lines
            .iter()
            .map(|l| l["kind"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        kinds(&audit_log(&sandbox, &["--kind", "access"])),
        ["access"; 3]
    );
    assert_eq!(
        kinds(&audit_log(
            &sandbox,
            &["--kind", "access", "--kind", "roster"]
        ))
        .len(),
        4
    );
    let sam = audit_log(&sandbox, &["--steward", "sam.steward"]);
    assert_eq!(kinds(&sam), ["roster", "access", "access"]);
    let ada_lines = audit_log(&sandbox, &["--customer", ADA]);
    assert_eq!(ada_lines.len(), 2);
    assert!(
        ada_lines
            .iter()
            .all(|l| l["event"]["access"]["customer"] == ADA)
    );
    let support = audit_log(&sandbox, &["--purpose", "customer-support"]);
    assert_eq!(support.len(), 1);
    assert_eq!(support[0]["event"]["access"]["customer"], BEN);
    let later = audit_log(&sandbox, &["--since", &between, "--kind", "access"]);
    assert_eq!(later.len(), 2);
    let earlier = audit_log(&sandbox, &["--until", &between, "--kind", "access"]);
    assert_eq!(earlier.len(), 1);
    let refused = audit_log(&sandbox, &["--steward", "eve.steward"]);
    assert_eq!(
        refused[0]["event"]["access"]["outcome"]["denied"]["denial"],
        "not-on-roster"
    );

    // For people: a table, and where the chain is verified up to on standard error.
    let run = sandbox.run(&["audit", "log", "--steward", "eve.steward"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let table = run.stdout();
    assert!(table.starts_with("SEQ"), "{table}");
    assert_eq!(table.lines().count(), 2, "{table}");
    assert!(table.contains("refused (logs.access)"), "{table}");
    assert!(run.stderr.contains("chain verified"), "{}", run.stderr);
}

#[test]
fn audit_log_and_report_refuse_an_unknown_kind_and_a_period_that_ends_before_it_starts() {
    let sandbox = Sandbox::with_customers("audit-bad-input");
    let unknown = sandbox.run(&["audit", "log", "--kind", "opens"]);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("unknown audit entry kind `opens`"),
        "{}",
        unknown.stderr
    );
    for command in ["log", "report"] {
        let reversed = sandbox.run(&[
            "audit",
            command,
            "--since",
            "2030-01-01T00:00:00Z",
            "--until",
            "2029-01-01T00:00:00Z",
        ]);
        assert_eq!(reversed.code, 2, "{command}: {}", reversed.stderr);
        assert!(
            reversed.stderr.contains("after its end"),
            "{command}: {}",
            reversed.stderr
        );
        assert!(reversed.stdout.is_empty());
    }
    let no_since = sandbox.run(&["audit", "report"]);
    assert_eq!(no_since.code, 2, "{}", no_since.stderr);
    assert!(no_since.stderr.contains("--since"), "{}", no_since.stderr);
    let bad_time = sandbox.run(&["audit", "report", "--since", "yesterday"]);
    assert_eq!(bad_time.code, 2, "{}", bad_time.stderr);
}

#[test]
fn audit_report_counts_opens_and_refusals_and_says_up_to_which_checkpoint_it_is_verified() {
    let sandbox = Sandbox::with_customers("audit-report");
    let since = now();
    let ada = sandbox.ingest(&line(ADA, "ada's prompt"));
    for _ in 0..2 {
        assert_eq!(
            sandbox.open(&ada[0], "troubleshooting", "sam.steward").code,
            0
        );
    }
    assert_eq!(
        sandbox
            .open(&ada[0], "misuse-prevention", "sam.steward")
            .code,
        0
    );
    // Three refusals in a row: an anomaly.
    for _ in 0..3 {
        assert_eq!(
            sandbox.open(&ada[0], "troubleshooting", "eve.steward").code,
            3
        );
    }
    let checkpoint = sandbox.json(&["audit", "checkpoint"]);
    // After the relationship ended, an attempt is refused and flagged.
    sandbox.ok(&["customer", "end", "--customer", ADA]);
    assert_eq!(
        sandbox.open(&ada[0], "troubleshooting", "sam.steward").code,
        3
    );

    let report = sandbox.json(&["audit", "report", "--since", &since]);
    assert_eq!(
        report["verified"]["checkpoint"]["entries"],
        checkpoint["entries"]
    );
    let body = &report["report"];
    let opens = body["opens"].as_array().unwrap();
    assert_eq!(opens.len(), 2, "{body}");
    assert_eq!(opens[0]["steward"], "sam.steward");
    assert_eq!(opens[0]["purpose"], "troubleshooting");
    assert_eq!(opens[0]["opens"], 2);
    assert_eq!(opens[1]["purpose"], "misuse-prevention");
    let refusals = body["refusals"].as_array().unwrap();
    assert_eq!(refusals.len(), 4);
    assert_eq!(refusals[0]["reason"], "not-on-roster");
    assert_eq!(refusals[3]["reason"], "retention-ended");
    assert_eq!(refusals[3]["clause"], "logs.retention");
    assert_eq!(body["subject_requests"], Value::Array(Vec::new()));
    let anomalies = body["anomalies"].as_array().unwrap();
    let kinds: Vec<&str> = anomalies
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"refusals-in-a-row"), "{body}");
    assert!(kinds.contains(&"after-relationship-ended"), "{body}");
    // The roster change before `since` is outside the period.
    assert_eq!(body["roster"], Value::Array(Vec::new()));

    let text = sandbox.ok(&["audit", "report", "--since", &since]);
    assert!(
        text.contains(&format!(
            "reaching the signed checkpoint at {} entries",
            checkpoint["entries"]
        )),
        "{text}"
    );
    assert!(text.contains("refusals in a row"), "{text}");
    assert!(text.contains("whose relationship had ended"), "{text}");

    // A period that ends before the opens reports none of them.
    let empty = sandbox.json(&[
        "audit",
        "report",
        "--since",
        "2020-01-01T00:00:00Z",
        "--until",
        &since,
    ]);
    assert_eq!(empty["report"]["opens"], Value::Array(Vec::new()));
}

#[test]
fn a_trail_that_does_not_verify_gives_no_log_and_no_report() {
    let sandbox = Sandbox::with_customers("audit-report-broken");
    let ada = sandbox.ingest(&line(ADA, "ada's prompt"));
    assert_eq!(
        sandbox.open(&ada[0], "troubleshooting", "eve.steward").code,
        3
    );
    // Someone turns the refusal into an open in steward.db.
    let conn = rusqlite::Connection::open(sandbox.store().join("steward.db")).unwrap();
    let edited = conn
        .execute(
            "UPDATE audit_entries SET entry = replace(entry, 'eve.steward', 'sam.steward') \
             WHERE entry LIKE '%eve.steward%'",
            [],
        )
        .unwrap();
    assert_eq!(edited, 1);
    drop(conn);
    for args in [
        vec!["audit", "report", "--since", "2020-01-01T00:00:00Z"],
        vec!["audit", "log"],
        vec![
            "audit",
            "report",
            "--since",
            "2020-01-01T00:00:00Z",
            "--json",
        ],
    ] {
        let run = sandbox.run(&args);
        assert_eq!(run.code, 1, "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?} printed a report");
        assert!(run.stderr.contains("broken"), "{args:?}: {}", run.stderr);
    }
}

#[test]
fn ropa_reports_the_policy_and_the_store_and_names_stewards_only_when_asked() {
    let sandbox = Sandbox::with_customers("ropa");
    sandbox.ok(&["customer", "end", "--customer", BEN]);
    sandbox.ok(&["audit", "checkpoint"]);
    let markdown = sandbox.ok(&["ropa"]);
    assert!(
        markdown.starts_with("# Records of processing activities (GDPR Art. 30)"),
        "{markdown}"
    );
    assert!(
        markdown.contains("| troubleshooting | `logs.purposes` | llm-request-log |"),
        "{markdown}"
    );
    assert!(
        markdown.contains("**data-steward** (1 of at most 3)"),
        "{markdown}"
    );
    assert!(
        markdown.contains("1 with a relationship in force, 1 whose relationship ended"),
        "{markdown}"
    );
    assert!(!markdown.contains("sam.steward"), "{markdown}");
    assert!(!markdown.contains("marketing"), "{markdown}");
    let named = sandbox.ok(&["ropa", "--names"]);
    assert!(named.contains("sam.steward"), "{named}");

    let json = sandbox.json(&["ropa"]);
    assert_eq!(json["schema_version"], 1);
    assert_eq!(json["policy"]["version"], "2025-03-05");
    assert_eq!(json["access"][0]["role"], "data-steward");
    assert_eq!(json["access"][0]["count"], 1);
    assert_eq!(json["access"][0]["names"], Value::Null);
    let logs = json["data_categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|category| category["category"] == "llm-request-log")
        .unwrap();
    assert_eq!(logs["retention"]["method"], "crypto-shred");
    assert_eq!(logs["clause"], "logs.stored");
    let measures: Vec<&str> = json["security"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["measure"].as_str().unwrap())
        .collect();
    for measure in [
        "encryption-at-rest",
        "key-custody",
        "audit-chain",
        "checkpoints",
        "secret-redaction",
    ] {
        assert!(measures.contains(&measure), "{measure}: {json}");
    }
    let checkpoints = json["security"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["measure"] == "checkpoints")
        .unwrap();
    assert!(
        checkpoints["description"]
            .as_str()
            .unwrap()
            .contains("the newest covers"),
        "{checkpoints}"
    );
}

/// `steward subject export ... --out PATH` with the request flags, plus `extra`.
fn subject_export(sandbox: &Sandbox, customer: &str, out: &Path, extra: &[&str]) -> Run {
    let mut args = vec![
        "subject",
        "export",
        "--customer",
        customer,
        "--request",
        "DSR-2026-0042",
        "--verified-by",
        "dana.privacy",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    sandbox.run(&args)
}

fn subject_erase(sandbox: &Sandbox, customer: &str) -> Run {
    sandbox.run(&[
        "subject",
        "erase",
        "--customer",
        customer,
        "--request",
        "DSR-2026-0043",
        "--verified-by",
        "dana.privacy",
        "--json",
    ])
}

fn decrypt_bundle(path: &Path, identity: &age::x25519::Identity) -> Value {
    use std::io::Read;
    let file = fs::read(path).unwrap();
    assert!(file.starts_with(b"age-encryption.org/v1"));
    let mut reader = age::Decryptor::new(file.as_slice())
        .unwrap()
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .unwrap();
    let mut text = String::new();
    reader.read_to_string(&mut text).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn subject_export_is_one_encrypted_bundle_of_the_customers_data_and_nobody_elses() {
    let sandbox = Sandbox::with_customers("subject-export");
    sandbox.customer_sets_consent(ADA, "shared");
    sandbox.ingest(&(line(ADA, "ada's first prompt") + &line(ADA, "ada's second prompt")));
    sandbox.ingest(&line(BEN, "ben's prompt"));
    let entries = sandbox.audit_entries();
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let out = sandbox.path("ada.bundle.age");
    let run = subject_export(&sandbox, ADA, &out, &["--recipient", &recipient]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout().contains("2 records written"),
        "{}",
        run.stdout()
    );
    let bundle = decrypt_bundle(&out, &identity);
    assert_eq!(bundle["format"], "steward-subject-export/1");
    assert_eq!(bundle["customer"], ADA);
    assert_eq!(bundle["clause"], "law.access");
    assert_eq!(bundle["request"]["reference"], "DSR-2026-0042");
    assert_eq!(bundle["request"]["verified_by"], "dana.privacy");
    assert_eq!(bundle["consent"][0]["level"], "shared");
    assert_eq!(bundle["relationships"][0]["customer"], ADA);
    let mut bodies: Vec<&str> = bundle["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|record| record["body"].as_str().unwrap())
        .collect();
    // In (created-at, id) order; two lines ingested in one run may share an instant.
    bodies.sort_unstable();
    assert_eq!(bodies, ["ada's first prompt", "ada's second prompt"]);
    assert_eq!(bundle["summary"]["records"], 2);
    let text = bundle.to_string();
    assert!(
        !text.contains(BEN) && !text.contains("ben's prompt"),
        "{text}"
    );
    // Audited: the request's start and its end.
    assert_eq!(sandbox.audit_entries(), entries + 2);
    let log = audit_log(&sandbox, &["--kind", "subject"]);
    assert_eq!(log.len(), 2, "{log:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}

#[test]
fn subject_export_refuses_plaintext_without_the_flag_an_existing_bundle_and_bad_requests() {
    let sandbox = Sandbox::with_customers("subject-export-refusals");
    sandbox.ingest(&line(ADA, "ada's prompt"));
    let entries = sandbox.audit_entries();
    let out = sandbox.path("ada.json");
    // Neither a recipient nor the dangerous flag: usage error, nothing written.
    let run = subject_export(&sandbox, ADA, &out, &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(!out.exists());
    // An unknown customer: bad input, named; nothing left behind, nothing audited.
    let stranger = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8aff";
    let run = subject_export(&sandbox, stranger, &out, &["--dangerous-plaintext"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("unknown customer `{stranger}`")),
        "{}",
        run.stderr
    );
    assert!(!out.exists());
    // A missing or blank request reference: refused by the argument parser, exit 2.
    let missing = sandbox.run(&[
        "subject",
        "export",
        "--customer",
        ADA,
        "--verified-by",
        "dana.privacy",
        "--out",
        out.to_str().unwrap(),
        "--dangerous-plaintext",
    ]);
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    assert!(missing.stderr.contains("--request"), "{}", missing.stderr);
    let invisible = sandbox.run(&[
        "subject",
        "export",
        "--customer",
        ADA,
        "--request",
        "\u{200B}",
        "--verified-by",
        "dana.privacy",
        "--out",
        out.to_str().unwrap(),
        "--dangerous-plaintext",
    ]);
    assert_eq!(invisible.code, 2, "{}", invisible.stderr);
    assert!(
        invisible.stderr.contains("request reference"),
        "{}",
        invisible.stderr
    );
    assert_eq!(sandbox.audit_entries(), entries);
    // Plaintext with the flag: 0600, the record in it.
    let run = subject_export(&sandbox, ADA, &out, &["--dangerous-plaintext"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let bundle: Value = serde_json::from_str(&fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(bundle["records"][0]["body"], "ada's prompt");
    // The same path again: refused, the bundle untouched, nothing audited.
    let before = fs::read(&out).unwrap();
    let entries = sandbox.audit_entries();
    let run = subject_export(&sandbox, ADA, &out, &["--dangerous-plaintext"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("already exists"), "{}", run.stderr);
    assert_eq!(fs::read(&out).unwrap(), before);
    assert_eq!(sandbox.audit_entries(), entries);
}

#[test]
fn subject_erase_waits_for_a_hold_and_completes_once_it_is_released() {
    let sandbox = Sandbox::with_customers("subject-erase");
    sandbox.customer_sets_consent(ADA, "shared");
    let ada = sandbox.ingest(&line(ADA, "ada's prompt"));
    sandbox.ingest(&line(BEN, "ben's prompt"));
    let recipient = age::x25519::Identity::generate().to_public().to_string();
    let exported = sandbox.json(&[
        "export",
        "training",
        "--scope",
        "shared",
        "--out",
        sandbox.path("shared.age").to_str().unwrap(),
        "--recipient",
        &recipient,
    ]);
    let job = exported["outcome"]["plan"]["job"]
        .as_str()
        .unwrap()
        .to_owned();
    sandbox.ok(&[
        "hold",
        "place",
        "--customer",
        ADA,
        "--reason",
        "CASE-21 litigation hold",
        "--by",
        "counsel.kim",
        "--review-by",
        LATER,
    ]);

    // Held: nothing deleted, the hold named, the request pending.
    let held = subject_erase(&sandbox, ADA);
    assert_eq!(held.code, 2, "{}", held.stderr);
    assert!(held.stderr.contains("held by hold-1"), "{}", held.stderr);
    let opened = sandbox.open(&ada[0], "troubleshooting", "sam.steward");
    assert_eq!(opened.code, 0, "{}", opened.stderr);
    let pending = sandbox.json(&["subject", "list"]);
    assert_eq!(pending.as_array().unwrap().len(), 1, "{pending}");
    assert_eq!(pending[0]["request"]["customer"], ADA);
    assert_eq!(pending[0]["holds"], serde_json::json!([1]));
    assert!(
        sandbox
            .ok(&["subject", "list"])
            .contains("pending behind hold-1")
    );

    // Released: the same request completes, names the export still holding her records.
    sandbox.ok(&[
        "hold",
        "release",
        "--id",
        "hold-1",
        "--by",
        "counsel.kim",
        "--reason",
        "CASE-21 settled",
    ]);
    let erased = subject_erase(&sandbox, ADA);
    assert_eq!(erased.code, 0, "{}", erased.stderr);
    let erased: Value = serde_json::from_str(&erased.stdout()).unwrap();
    assert_eq!(erased["outcome"], "erased");
    assert_eq!(erased["records_deleted"], 1);
    assert_eq!(erased["keys"], "shredded now");
    assert_eq!(
        erased["exports_holding_their_data"],
        serde_json::json!([job])
    );
    assert!(
        sandbox
            .json(&["subject", "list"])
            .as_array()
            .unwrap()
            .is_empty()
    );
    // Her record is gone; Ben's is untouched; her consent receipt is kept as proof.
    assert_eq!(
        sandbox.open(&ada[0], "troubleshooting", "sam.steward").code,
        2
    );
    let history = sandbox.json(&["consent", "history", "--customer", ADA]);
    assert_eq!(history.as_array().map(Vec::len), Some(1), "{history}");
    // Again: idempotent, and it says so.
    let again = subject_erase(&sandbox, ADA);
    assert_eq!(again.code, 0, "{}", again.stderr);
    let again: Value = serde_json::from_str(&again.stdout()).unwrap();
    assert_eq!(again["outcome"], "already-erased");
    let log = audit_log(&sandbox, &["--kind", "subject", "--customer", ADA]);
    assert_eq!(
        log.len(),
        5,
        "held, started, erased, started, already erased: {log:?}"
    );
}

#[test]
fn subject_erase_refuses_an_unknown_customer_and_a_missing_reference() {
    let sandbox = Sandbox::with_customers("subject-erase-refusals");
    let entries = sandbox.audit_entries();
    let run = subject_erase(&sandbox, "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8aff");
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("unknown customer"), "{}", run.stderr);
    let missing = sandbox.run(&[
        "subject",
        "erase",
        "--customer",
        ADA,
        "--request",
        " ",
        "--verified-by",
        "dana.privacy",
    ]);
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    assert!(missing.stderr.contains("blank"), "{}", missing.stderr);
    assert_eq!(sandbox.audit_entries(), entries);
}

/// `steward consent set --customer ADA --level LEVEL` by the customer, in force now.
fn set_consent(sandbox: &Sandbox, level: &str) {
    sandbox.ok(&[
        "consent",
        "set",
        "--customer",
        ADA,
        "--level",
        level,
        "--actor",
        "customer",
        "--channel",
        "account-settings",
    ]);
}

/// `steward consent interactive --customer ADA --opt-in` by the customer through `channel`.
fn opt_in_to_interactive_features(sandbox: &Sandbox, channel: &str) {
    sandbox.ok(&[
        "consent",
        "interactive",
        "--customer",
        ADA,
        "--opt-in",
        "--actor",
        "customer",
        "--channel",
        channel,
    ]);
}

#[test]
fn issued_receipts_verify_offline_with_the_published_key_and_name_their_fact_log_entry() {
    let sandbox = Sandbox::with_customers("receipt-issue");
    set_consent(&sandbox, "shared");
    set_consent(&sandbox, "private");
    opt_in_to_interactive_features(&sandbox, "api");
    let out = sandbox.path("ada-receipts.json");
    let out_arg = out.to_str().unwrap();
    let issued = sandbox.json(&["receipt", "issue", "--customer", ADA, "--out", out_arg]);
    assert_eq!(issued["receipts"], 3);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let file: Value = serde_json::from_str(&fs::read_to_string(&out).unwrap()).unwrap();
    let receipts = file.as_array().unwrap();
    assert_eq!(receipts.len(), 3);
    assert_eq!(receipts[0]["format"], "steward-consent-receipt");
    assert_eq!(receipts[0]["receipt"]["level"], "shared");
    assert_eq!(receipts[1]["receipt"]["previous_level"], "shared");
    // The interactive-features choice is a receipt of its own kind, in the log's order.
    assert_eq!(receipts[2]["format"], "steward-interactive-receipt");
    assert_eq!(receipts[2]["receipt"]["choice"], "opted-in");
    assert_eq!(receipts[0]["key_id"], issued["key_id"]);
    let entries: Vec<u64> = receipts
        .iter()
        .map(|receipt| receipt["fact_log"]["entry"].as_u64().unwrap())
        .collect();
    assert!(
        entries[0] >= 1 && entries[0] < entries[1] && entries[1] < entries[2],
        "{entries:?}"
    );

    let key = sandbox.json(&["receipt", "public-key"]);
    assert_eq!(key["key_id"], issued["key_id"]);
    let public = key["public_key"].as_str().unwrap().to_owned();
    assert_eq!(
        fs::read_to_string(sandbox.store().join("receipt.pub"))
            .unwrap()
            .trim(),
        public
    );
    // Offline: no store at all, only the key the customer was given.
    let elsewhere = Sandbox::new("receipt-offline");
    fs::copy(&out, elsewhere.path("mine.json")).unwrap();
    let verified = elsewhere.json(&["receipt", "verify", "mine.json", "--public-key", &public]);
    assert_eq!(verified["verified"], 3);
    assert_eq!(verified["receipts"][0]["customer"], ADA);
    assert_eq!(verified["receipts"][0]["kind"], "consent");
    assert_eq!(verified["receipts"][2]["kind"], "interactive");
    assert!(!elsewhere.store().exists());
    // By default the store directory's public key.
    let run = sandbox.run(&["receipt", "verify", out_arg]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout().contains("`none` -> `shared`"),
        "{}",
        run.stdout()
    );
    assert!(
        run.stdout()
            .contains("interactive features `opted-out` -> `opted-in`"),
        "{}",
        run.stdout()
    );
    // A consent receipt's signature cannot pass for an interactive one: the format is signed.
    let mut relabelled: Value = file.clone();
    relabelled[0]["format"] = "steward-interactive-receipt".into();
    fs::write(sandbox.path("relabelled.json"), relabelled.to_string()).unwrap();
    let run = sandbox.run(&["receipt", "verify", "relabelled.json"]);
    assert_ne!(run.code, 0, "{}", run.stderr);
    // The file is never overwritten.
    let again = sandbox.run(&["receipt", "issue", "--customer", ADA, "--out", out_arg]);
    assert_eq!(again.code, 2, "{}", again.stderr);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
}

#[test]
fn a_tampered_receipt_fails_to_verify_naming_the_receipt_and_why() {
    let sandbox = Sandbox::with_customers("receipt-tamper");
    set_consent(&sandbox, "private");
    let issued = sandbox.ok(&["receipt", "issue", "--customer", ADA]);
    let mut file: Value = serde_json::from_str(&issued).unwrap();
    file[0]["receipt"]["level"] = "open-weight".into();
    fs::write(sandbox.path("tampered.json"), file.to_string()).unwrap();
    let run = sandbox.run(&["receipt", "verify", "tampered.json"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("tampered.json"), "{}", run.stderr);
    assert!(run.stderr.contains("receipt 0"), "{}", run.stderr);
    assert!(
        run.stderr.contains("signature does not verify"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
}

#[test]
fn a_receipt_verified_against_the_wrong_key_is_refused_naming_both_keys() {
    let sandbox = Sandbox::with_customers("receipt-wrong-key");
    set_consent(&sandbox, "shared");
    let issued = sandbox.ok(&["receipt", "issue", "--customer", ADA]);
    fs::write(sandbox.path("mine.json"), &issued).unwrap();
    // Another store's receipt key.
    let other = Sandbox::with_customers("receipt-other-key");
    let wrong = other.json(&["receipt", "public-key"]);
    let wrong_key = wrong["public_key"].as_str().unwrap();
    fs::write(sandbox.path("wrong.pub"), format!("{wrong_key}\n")).unwrap();
    for key in [wrong_key, "wrong.pub"] {
        let run = sandbox.run(&["receipt", "verify", "mine.json", "--public-key", key]);
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert!(run.stderr.contains("signed by key"), "{}", run.stderr);
        assert!(
            run.stderr.contains(wrong["key_id"].as_str().unwrap()),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn receipt_commands_name_bad_input() {
    let sandbox = Sandbox::with_customers("receipt-bad-input");
    // A customer with no consent receipt.
    let run = sandbox.run(&["receipt", "issue", "--customer", BEN]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("no consent receipts"), "{}", run.stderr);
    // A file that is no receipt, an unknown version, a key that is no key.
    set_consent(&sandbox, "shared");
    let issued = sandbox.ok(&["receipt", "issue", "--customer", ADA]);
    let mut file: Value = serde_json::from_str(&issued).unwrap();
    file[0]["version"] = 7.into();
    fs::write(sandbox.path("future.json"), file.to_string()).unwrap();
    fs::write(sandbox.path("junk.json"), "{\"not\": \"a receipt\"}").unwrap();
    for (file, expected) in [
        ("future.json", "unknown consent receipt version `7`"),
        (
            "junk.json",
            "not a steward receipt (consent or interactive features)",
        ),
        ("missing.json", "cannot read"),
    ] {
        let run = sandbox.run(&["receipt", "verify", file]);
        assert_eq!(run.code, 2, "{file}: {}", run.stderr);
        assert!(run.stderr.contains(expected), "{file}: {}", run.stderr);
    }
    let run = sandbox.run(&["receipt", "verify", "future.json", "--public-key", "abc"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("receipt public key"), "{}", run.stderr);
    // Without a key and without a store, nothing to verify with.
    let elsewhere = Sandbox::new("receipt-no-key");
    fs::write(elsewhere.path("mine.json"), &issued).unwrap();
    let run = elsewhere.run(&["receipt", "verify", "mine.json"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--public-key"), "{}", run.stderr);
}

#[test]
fn a_store_made_before_receipts_were_signed_makes_its_receipt_key_on_first_use() {
    let sandbox = Sandbox::with_customers("receipt-first-use");
    for name in ["receipt.pk8", "receipt.pub"] {
        fs::remove_file(sandbox.store().join(name)).unwrap();
    }
    set_consent(&sandbox, "shared");
    let issued = sandbox.ok(&["receipt", "issue", "--customer", ADA]);
    assert!(sandbox.store().join("receipt.pk8").is_file());
    fs::write(sandbox.path("mine.json"), &issued).unwrap();
    assert_eq!(sandbox.run(&["receipt", "verify", "mine.json"]).code, 0);
    let first = sandbox.json(&["receipt", "public-key"]);
    let second = sandbox.json(&["receipt", "public-key"]);
    assert_eq!(first, second);
}

#[test]
fn the_sweep_deletes_consent_receipts_once_the_proof_period_after_the_end_has_passed() {
    let sandbox = Sandbox::with_customers("receipt-sweep");
    set_consent(&sandbox, "shared");
    opt_in_to_interactive_features(&sandbox, "account-settings");
    // While the relationship lasts the receipts decide: no sweep touches them.
    let plan = sandbox.json(&["sweep", "--plan", "--at", LATER]);
    assert_eq!(plan["consent_receipts"]["due"], serde_json::json!([]));
    sandbox.ok(&["customer", "end", "--customer", ADA]);
    // The bundled policy keeps them three years as proof: due only by then.
    let plan = sandbox.json(&["sweep", "--plan"]);
    assert_eq!(plan["consent_receipts"]["due"], serde_json::json!([]));
    let plan = sandbox.json(&["sweep", "--plan", "--at", LATER]);
    assert_eq!(plan["consent_receipts"]["due"], serde_json::json!([ADA]));
    let report = sandbox.json(&["sweep", "--execute"]);
    assert_eq!(report["consent_receipts"]["deleted"], serde_json::json!([]));
    assert_eq!(
        sandbox
            .json(&["consent", "history", "--customer", ADA])
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    // A policy with a one-second proof period: past it, the sweep deletes them, as one entry
    // of the fact log that every later start replays.
    let short = sandbox.path("short-proof.toml");
    let bundled = fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/coder-model.toml"
    ))
    .unwrap();
    fs::write(
        &short,
        bundled.replace(
            "consent-proof-period = \"P1095D\"",
            "consent-proof-period = \"PT1S\"",
        ),
    )
    .unwrap();
    let short = short.to_str().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1_100));
    let report = sandbox.json(&["--policy", short, "sweep", "--execute"]);
    assert_eq!(
        report["consent_receipts"]["deleted"],
        serde_json::json!([ADA])
    );
    for history in ["history", "interactive-history"] {
        let shown = sandbox.json(&["consent", history, "--customer", ADA]);
        assert_eq!(
            shown.as_array().map(Vec::len),
            Some(0),
            "{history}: {shown}"
        );
    }
    let issue = sandbox.run(&["receipt", "issue", "--customer", ADA]);
    assert_eq!(issue.code, 2, "{}", issue.stderr);
    assert!(
        issue.stderr.contains("no consent receipts"),
        "{}",
        issue.stderr
    );
    // Ben's relationship lasts: his receipts (none here) and facts are untouched, and the
    // store still verifies with the deletion in its log.
    let verified = sandbox.run(&["audit", "verify"]);
    assert_eq!(verified.code, 0, "{}", verified.stderr);
    let again = sandbox.json(&["--policy", short, "sweep", "--execute"]);
    assert_eq!(again["consent_receipts"]["deleted"], serde_json::json!([]));
}
