//! SSH between the PostgreSQL OS users of the members (WAL shipped to an archive
//! host, pg_rewind): a key pair per member whose private key never leaves its
//! host, every member's public key in `authorized_keys`, and every host's key in
//! `known_hosts`, each in a managed block that keeps the file's other lines.
//!
//! A public key is read from a file its host's PostgreSQL user controls, so it is
//! taken only when it is exactly one key line of a known type ([`public_key`]);
//! anything else is refused without being repeated. Each key is authorized with
//! `restrict` (no forwarding of ports, agent or X11, no pty: the archiver's
//! ssh and scp, pgBackRest and an upgrade's rsync only run commands) and, where
//! its member's address is an IP address, `from=` that address.

use super::file::{DesiredFile, WriteFile};
use super::managed_block;
use super::{
    Action, Change, Member, Operation, PlanContext, PlannedStep, RemoteOperation, RunTimeRead,
    StepInput,
};
use crate::diagnostic::Diagnostic;
use crate::facts::FactsRequest;
use crate::inventory::HostSettings;
use crate::script::{HostScript, Script};
use crate::secret::Sensitive;
use serde::Serialize;

/// The host key of a host's sshd, which the others record in their known_hosts.
pub const HOST_KEY: &str = "/etc/ssh/ssh_host_ed25519_key.pub";

/// A key pair for the PostgreSQL OS user (made on the host, never copied off it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SshKey {
    pub private_path: String,
    pub public_path: String,
}

/// The other members' public keys in the OS user's `authorized_keys`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuthorizedKeys {
    pub path: String,
}

/// Every other host's host key in the OS user's `known_hosts`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KnownHosts {
    pub path: String,
}

/// Makes a key pair for the PostgreSQL OS user when it has none.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GenerateSshKey {
    pub private_path: String,
    pub os_user: String,
}

/// Writes `authorized_keys` once the public keys made in this run are read from
/// their hosts (`collect`); `known` holds the others' lines, already checked and
/// with their options.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CollectAuthorizedKeys {
    pub path: String,
    pub existing: String,
    pub known: Vec<String>,
    pub collect: Vec<KeyToCollect>,
    pub owner: String,
    pub group: String,
    #[serde(skip)]
    pub server: HostSettings,
}

/// A public key made in this run, read from its host when the step runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyToCollect {
    pub host: String,
    /// The address the inventory gives the host, for `from=`.
    pub address: String,
    pub public_path: String,
}

/// The key types pgconverge authorizes: what `ssh-keygen` makes, hardware keys
/// (`sk-`) included; DSA, which OpenSSH no longer accepts, is not among them.
const KEY_TYPES: [&str; 7] = [
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

/// One public key line as a `.pub` file holds it: `TYPE BASE64 [COMMENT]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub kind: String,
    pub blob: String,
    pub comment: String,
}

/// `text` read as exactly one public key line (one final line break allowed), or
/// what is wrong with it. The reason never quotes the text: a host's user may have
/// pointed the file at one it must not show (`/etc/shadow`).
pub fn public_key(text: &str) -> Result<PublicKey, String> {
    let line = text.strip_suffix('\n').unwrap_or(text);
    if line.trim().is_empty() {
        return Err("it is empty".to_string());
    }
    if line.contains('\n') {
        return Err(format!("it has {} lines", line.split('\n').count()));
    }
    let (kind, rest) = next_field(line);
    if !KEY_TYPES.contains(&kind) {
        // authorized_keys allows options before the type; a .pub file has none.
        let mut rest = rest;
        while !rest.is_empty() {
            let (field, after) = next_field(rest);
            if KEY_TYPES.contains(&field) {
                return Err("it has options before the key type".to_string());
            }
            rest = after;
        }
        return Err(format!(
            "its key type is not one pgconverge knows ({})",
            KEY_TYPES.join(", ")
        ));
    }
    let (blob, rest) = next_field(rest);
    embedded_type_matches(kind, blob)?;
    let comment = rest.trim_matches([' ', '\t']);
    if comment.chars().any(char::is_control) {
        return Err("its comment holds control characters".to_string());
    }
    Ok(PublicKey {
        kind: kind.to_string(),
        blob: blob.to_string(),
        comment: comment.to_string(),
    })
}

/// The first field of `text` (separated by spaces or tabs) and what follows it.
fn next_field(text: &str) -> (&str, &str) {
    let text = text.trim_start_matches([' ', '\t']);
    match text.find([' ', '\t']) {
        Some(end) => (&text[..end], &text[end..]),
        None => (text, ""),
    }
}

/// The key data is base64 of a string naming its type first (RFC 4253, 6.6):
/// it must decode, and name the same type as the line, with key material after.
fn embedded_type_matches(kind: &str, blob: &str) -> Result<(), String> {
    use base64::Engine;
    if blob.is_empty() {
        return Err("it has no key data after the key type".to_string());
    }
    let Ok(data) = base64::engine::general_purpose::STANDARD.decode(blob) else {
        return Err("its key data is not base64".to_string());
    };
    let embedded = data
        .get(..4)
        .and_then(|length| <[u8; 4]>::try_from(length).ok())
        .map(|length| u32::from_be_bytes(length) as usize)
        .and_then(|length| data.get(4..4usize.checked_add(length)?))
        .filter(|_| data.len() > 4 + kind.len());
    match embedded {
        Some(embedded) if embedded == kind.as_bytes() => Ok(()),
        Some(_) => Err(format!(
            "its key data is not of the type the line names ({kind})"
        )),
        None => Err("its key data is not an SSH public key".to_string()),
    }
}

/// The `authorized_keys` line of a member's key: `restrict`, and `from=` the
/// member's address when it is an IP address. sshd compares `from=` with the
/// client's IP address, and with its name only under `UseDNS yes` (off by
/// default), so a host name there would lock the member out on most hosts:
/// a member the inventory names by host name gets `restrict` alone, and the plan
/// says so (`unbound_reason`). The address is the one pgconverge reaches the
/// member at, which is also where the members' `pg_hba.conf` rules expect its
/// connections from: a member that reaches the others from another address
/// needs its `ansible_host` to be that one.
pub fn authorized_line(address: &str, key: &PublicKey) -> Result<String, String> {
    // `from=` is a quoted, comma-separated list of patterns: an address holding a
    // quote or comma would change the option. An address never does (src/address.rs),
    // so this only guards the option's syntax.
    if address.contains(['"', ',']) {
        return Err(format!(
            "the address {address:?} cannot be written in `from=` (it holds a quote or comma)"
        ));
    }
    let options = match address.parse::<std::net::IpAddr>() {
        // The address as sshd writes the client's, so that `fd00:0::13` matches too.
        Ok(ip) => format!("from=\"{ip}\",restrict"),
        Err(_) => "restrict".to_string(),
    };
    let mut line = format!("{options} {} {}", key.kind, key.blob);
    if !key.comment.is_empty() {
        line.push(' ');
        line.push_str(&key.comment);
    }
    Ok(line)
}

/// Why a member's key is authorized without `from=`, or `None` when it is bound
/// to the member's address.
fn unbound_reason(host: &str, address: &str) -> Option<String> {
    address.parse::<std::net::IpAddr>().is_err().then(|| {
        format!(
            "the key of {host} is authorized without `from=`: its address `{address}` is a host name, which sshd matches only with `UseDNS yes`; give {host} an IP address as `ansible_host` to bind its key to it"
        )
    })
}

/// What is wrong with the public key at `path` on `host`, said as the plan and
/// the executor say it.
fn refused_key(host: &str, path: &str, problem: &str) -> String {
    format!("the public key read from `{host}:{path}` is not one public key line: {problem}")
}

/// A member's public key file, checked, as its `authorized_keys` line.
pub fn authorized_line_from(
    host: &str,
    address: &str,
    path: &str,
    content: &[u8],
) -> Result<String, String> {
    let text = std::str::from_utf8(content)
        .map_err(|_| refused_key(host, path, "it is not UTF-8 text"))?;
    let key = public_key(text).map_err(|problem| refused_key(host, path, &problem))?;
    authorized_line(address, &key).map_err(|problem| format!("{host}: {problem}"))
}

impl Action for SshKey {
    fn desire(input: &StepInput) -> Result<SshKey, Diagnostic> {
        Ok(SshKey {
            private_path: ssh_file(input, "id_ed25519"),
            public_path: ssh_file(input, "id_ed25519.pub"),
        })
    }

    fn facts_needed(&self, request: &mut FactsRequest) {
        request.want_file(&self.public_path);
    }

    fn expose<'a>(&'a self, member: &mut Member<'a>) {
        member
            .ssh_public_key_path
            .get_or_insert(self.public_path.as_str());
    }

    fn plan(&self, context: &PlanContext) -> PlannedStep {
        let os_user = &context.settings().os_user;
        match context.facts.file(&self.public_path) {
            Some(file) => {
                let host = context.host;
                match authorized_line_from(
                    host.name,
                    host.address,
                    &self.public_path,
                    &file.content,
                ) {
                    Ok(line) => PlannedStep::noop(format!(
                        "{os_user} has a key pair ({})",
                        key_fingerprint(&line)
                    )),
                    // The key pair is made only where no private key is, so both go.
                    Err(problem) => PlannedStep::refused(format!(
                        "{problem}: move the key pair ({} and {}) aside and pgconverge makes a new one",
                        self.private_path, self.public_path
                    )),
                }
            }
            None => PlannedStep::change(
                Change::Create,
                format!(
                    "make a key pair for {os_user} in {} (the private key stays on {})",
                    self.private_path, context.host.name
                ),
                GenerateSshKey {
                    private_path: self.private_path.clone(),
                    os_user: os_user.clone(),
                },
            ),
        }
    }
}

impl Action for AuthorizedKeys {
    fn desire(input: &StepInput) -> Result<AuthorizedKeys, Diagnostic> {
        Ok(AuthorizedKeys {
            path: ssh_file(input, "authorized_keys"),
        })
    }

    fn facts_needed(&self, request: &mut FactsRequest) {
        want_with_host_key(request, &self.path);
    }

    /// Every other member's public key, so postgres on each node reaches the others
    /// (and the archive host) without a password, whichever is primary.
    fn plan(&self, context: &PlanContext) -> PlannedStep {
        let path = &self.path;
        if let Some(left_alone) = left_alone_while_unreachable(context, path, "keys") {
            return left_alone;
        }
        let mut known = Vec::new();
        let mut collect = Vec::new();
        let mut warnings = Vec::new();
        for other in context.others() {
            let Some(public_path) = other.ssh_public_key_path else {
                continue;
            };
            warnings.extend(unbound_reason(other.name, other.address));
            match other.facts.and_then(|facts| facts.file(public_path)) {
                Some(file) => {
                    match authorized_line_from(
                        other.name,
                        other.address,
                        public_path,
                        &file.content,
                    ) {
                        Ok(line) => known.push(line),
                        Err(problem) => return PlannedStep::refused(problem),
                    }
                }
                None => collect.push(KeyToCollect {
                    host: other.name.to_string(),
                    address: other.address.to_string(),
                    public_path: public_path.to_string(),
                }),
            }
        }
        let existing = observed_text(context, path);
        let names = |keys: &[String]| {
            keys.iter()
                .map(|key| key_fingerprint(key))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if collect.is_empty() {
            let desired = managed_block::with_block(&existing, &known);
            let what = format!("the keys of the other members ({})", names(&known));
            let planned = key_file(context, path, &existing, &desired, what);
            return PlannedStep {
                warnings,
                ..planned
            };
        }
        let made_now: Vec<&str> = collect.iter().map(|key| key.host.as_str()).collect();
        let change = if context.facts.file(path).is_some() {
            Change::Update
        } else {
            Change::Create
        };
        let summary = format!(
            "authorize the keys of the other members in {path}: {}{}made in this run on {}",
            names(&known),
            if known.is_empty() { "" } else { "; " },
            made_now.join(", ")
        );
        let settings = context.settings();
        let planned = PlannedStep::change(
            change,
            summary,
            CollectAuthorizedKeys {
                path: path.clone(),
                existing,
                known,
                collect,
                owner: settings.os_user.clone(),
                group: settings.os_group.clone(),
                server: settings.clone(),
            },
        );
        PlannedStep {
            warnings,
            ..planned
        }
    }
}

impl Action for KnownHosts {
    fn desire(input: &StepInput) -> Result<KnownHosts, Diagnostic> {
        Ok(KnownHosts {
            path: ssh_file(input, "known_hosts"),
        })
    }

    fn facts_needed(&self, request: &mut FactsRequest) {
        want_with_host_key(request, &self.path);
    }

    /// Every other host's sshd key under its name and address, so the archiver's
    /// and pg_rewind's SSH connections check host keys strictly.
    fn plan(&self, context: &PlanContext) -> PlannedStep {
        let path = &self.path;
        if let Some(left_alone) = left_alone_while_unreachable(context, path, "host keys") {
            return left_alone;
        }
        let lines: Vec<String> = context
            .others()
            .filter_map(|other| {
                let key = other.facts?.file(HOST_KEY)?;
                let key = String::from_utf8_lossy(&key.content);
                let mut fields = key.split_whitespace();
                let (kind, blob) = (fields.next()?, fields.next()?);
                Some(format!("{},{} {kind} {blob}", other.name, other.address))
            })
            .collect();
        let existing = observed_text(context, path);
        let desired = managed_block::with_block(&existing, &lines);
        let hosts: Vec<&str> = lines
            .iter()
            .filter_map(|line| line.split(',').next())
            .collect();
        let what = format!("the host keys of {}", hosts.join(", "));
        key_file(context, path, &existing, &desired, what)
    }
}

/// While another member is unreachable its keys are unknown, so a key file is left
/// as it is rather than losing their entries.
fn left_alone_while_unreachable(
    context: &PlanContext,
    path: &str,
    what: &str,
) -> Option<PlannedStep> {
    let unreachable = context.unreachable_others();
    (!unreachable.is_empty()).then(|| {
        PlannedStep::noop(format!(
            "{path} left as it is: the {what} of {} are unknown (unreachable)",
            unreachable.join(", ")
        ))
    })
}

/// The key file, and this host's sshd key, which the others' known_hosts need.
fn want_with_host_key(request: &mut FactsRequest, path: &str) {
    request.want_file(path);
    request.want_file(HOST_KEY);
}

/// A file under the OS user's `~/.ssh`.
fn ssh_file(input: &StepInput, name: &str) -> String {
    format!("{}/.ssh/{name}", input.settings.home_dir)
}

fn observed_text(context: &PlanContext, path: &str) -> String {
    context
        .facts
        .file(path)
        .map(|file| String::from_utf8_lossy(&file.content).into_owned())
        .unwrap_or_default()
}

/// A file of keys owned by the OS user, mode 0600, planned as any other file.
fn key_file(
    context: &PlanContext,
    path: &str,
    existing: &str,
    desired: &str,
    what: String,
) -> PlannedStep {
    let settings = context.settings();
    let file = DesiredFile {
        path: path.to_string(),
        content: desired.to_string(),
        owner: settings.os_user.clone(),
        group: settings.os_group.clone(),
        mode: 0o600,
        sensitive: false,
        check: None,
    };
    let planned = file.plan(context);
    if planned.change == Change::Noop && existing == desired {
        return PlannedStep::noop(format!("{path} holds {what}"));
    }
    PlannedStep {
        summary: format!("{} with {what}", planned.summary),
        ..planned
    }
}

/// `SHA256:...` of a key line (with or without options), as `ssh-keygen -l`
/// shows it.
fn key_fingerprint(line: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let mut fields = line.split_whitespace();
    let blob = fields
        .by_ref()
        .position(|field| KEY_TYPES.contains(&field))
        .and_then(|_| fields.next())
        .and_then(|blob| base64::engine::general_purpose::STANDARD.decode(blob).ok());
    match blob {
        Some(blob) => format!(
            "SHA256:{}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(sha2::Sha256::digest(&blob))
        ),
        None => "an unreadable key".to_string(),
    }
}

impl RemoteOperation for GenerateSshKey {
    fn scripts(&self) -> Result<Vec<HostScript>, String> {
        let script = Script::new(
            "generate_ssh_key",
            include_str!("scripts/generate_ssh_key.sh"),
            &self.os_user,
        )
        .text("KEY_PATH", &self.private_path);
        Ok(vec![HostScript::own(script)])
    }
}

impl CollectAuthorizedKeys {
    /// The script that reads one collected public key on its host, as the
    /// PostgreSQL OS user `os_user` whose key it is: a link planted there leads
    /// to nothing root alone may read.
    pub fn read_key(public_path: &str, os_user: &str) -> Script {
        Script::new(
            "read_public_key",
            include_str!("scripts/read_public_key.sh"),
            os_user,
        )
        .text("KEY_PATH", public_path)
        .as_pg_user()
    }

    /// The file write this stands for, once the collected keys are read (the
    /// output of `read_key` for each of `collect`, in its order), or why one of
    /// them is refused.
    pub fn with_keys(&self, collected: &[String]) -> Result<WriteFile, String> {
        if collected.len() != self.collect.len() {
            return Err(format!(
                "{} public keys were read for {} hosts",
                collected.len(),
                self.collect.len()
            ));
        }
        let mut keys = self.known.clone();
        for (key, text) in self.collect.iter().zip(collected) {
            keys.push(authorized_line_from(
                &key.host,
                &key.address,
                &key.public_path,
                text.as_bytes(),
            )?);
        }
        Ok(WriteFile {
            path: self.path.clone(),
            content: Sensitive::new(managed_block::with_block(&self.existing, &keys)),
            owner: self.owner.clone(),
            group: self.group.clone(),
            mode: 0o600,
            check: None,
            keep_as: None,
            server: self.server.clone(),
        })
    }
}

impl RemoteOperation for CollectAuthorizedKeys {
    /// The executor reads the collected keys first (`reads_when_run`) and runs
    /// the file write they make (`given_reads`); on its own this operation has
    /// nothing to run.
    fn scripts(&self) -> Result<Vec<HostScript>, String> {
        Err("authorized keys were not collected".to_string())
    }

    fn reads_when_run(&self) -> Vec<RunTimeRead> {
        self.collect
            .iter()
            .map(|key| RunTimeRead {
                host: key.host.clone(),
                script: CollectAuthorizedKeys::read_key(&key.public_path, &self.owner),
                what: "its public key".to_string(),
                named: format!("the public key {} of {}", key.public_path, key.host),
            })
            .collect()
    }

    /// Each key is checked (one key line of a known type) before anything of it
    /// is kept or shown: the file belongs to its host's PostgreSQL user.
    fn given_reads(&self, outputs: &[String]) -> Result<Operation, String> {
        self.with_keys(outputs).map(Operation::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::check::{EXAMPLE_PUBLIC_KEY, Fixture, check};

    const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFJYQiUmpirszI82vqiOpEmIIuI2wBPfnKSdCK24EOZq postgres@hed25519";
    const RSA: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDdq0o8rUw3lERv6o+QUpjFXOA+/OK3AwwSbHvjKEs2b0wiMVbNSQvamMtt1FFW+phADsO7edmY5htfLXpgGUei9KvdtDfvb8xyQf6BybTX/Chnr0+A+9KkeRR10oLS3C8GqQqelC+Ae+vyol3wTuzj2cTAKtrIcQ9Mi0g3B7cy0w== postgres@hrsab1024";
    const ECDSA_256: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBIFk/4TtrkGNmptoY1nmzpIS3w9L+K8lQ8zRe+wdxe1aTQD8Ko9oQY58Z7/wsP6oKEnoRCNUAJ573Y5fJ1vhTlY= postgres@hecdsab256";
    const ECDSA_384: &str = "ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBCOtRmCrICcuaTrKxxX5DTZWVDRzhphjNCu0In5fc+aOjsoTSCvhU609brJi727KaolQVUy4Z7P2exOx836x1fswlvUwGg6NCXZsXAY5CKtv7gOefNitp/RtzgW+vBJ6IQ== postgres@hecdsab384";
    const ECDSA_521: &str = "ecdsa-sha2-nistp521 AAAAE2VjZHNhLXNoYTItbmlzdHA1MjEAAAAIbmlzdHA1MjEAAACFBADCw/hZ3z1uAwzdCka0DYW65/H0XLCu13fBEh3p/2zxhvwnO9e4/86nnvr/dvF4zmvSFDOYy9RIY81cLK3SAnEw1gB7wpBjEVzUy9nA6oKXAf5cFoZMyrURDCO/0AGDZ4I/kk5grGsqlx5AzNNFlcBOCo/E2O3E47PgMVOFFXrlzsL0yg== postgres@hecdsab521";

    /// A hardware key line of `kind` (no ssh-keygen here makes one without the
    /// device): the type, 32 bytes of key, the application `ssh:`.
    fn security_key(kind: &str) -> String {
        use base64::Engine;
        let mut blob = Vec::new();
        for part in [kind.as_bytes(), &[7u8; 32], b"ssh:"] {
            let length = u32::try_from(part.len()).unwrap_or_default();
            blob.extend(length.to_be_bytes());
            blob.extend(part);
        }
        let data = base64::engine::general_purpose::STANDARD.encode(blob);
        format!("{kind} {data} postgres@db2")
    }

    fn problem(text: &str) -> String {
        match public_key(text) {
            Ok(key) => panic!("{text:?} was taken as {key:?}"),
            Err(problem) => problem,
        }
    }

    #[test]
    fn a_public_key_of_each_known_type_is_taken() {
        let hardware = [
            security_key("sk-ssh-ed25519@openssh.com"),
            security_key("sk-ecdsa-sha2-nistp256@openssh.com"),
        ];
        let lines = [ED25519, RSA, ECDSA_256, ECDSA_384, ECDSA_521]
            .into_iter()
            .chain(hardware.iter().map(String::as_str));
        for line in lines {
            let key = public_key(&format!("{line}\n"))
                .unwrap_or_else(|problem| panic!("{line}: {problem}"));
            assert_eq!(format!("{} {} {}", key.kind, key.blob, key.comment), line);
        }
        // No comment, tabs between the fields.
        let bare = ED25519
            .rsplit_once(' ')
            .map(|(key, _)| key)
            .unwrap_or_default();
        let key = public_key(bare).unwrap_or_else(|problem| panic!("{problem}"));
        assert_eq!(key.comment, "");
        let tabbed = bare.replace(' ', "\t");
        assert_eq!(public_key(&tabbed), Ok(key));
    }

    #[test]
    fn anything_but_one_public_key_line_is_refused_without_being_repeated() {
        let shadow = "root:$6$saltsalt$hashhashhash:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\npostgres:!:19000::::::\n";
        let refused = problem(shadow);
        assert_eq!(refused, "it has 3 lines");
        let one_shadow_line = problem("root:$6$saltsalt$hashhashhash:19000:0:99999:7:::\n");
        assert!(
            one_shadow_line.starts_with("its key type is not one pgconverge knows"),
            "{one_shadow_line}"
        );
        assert!(!one_shadow_line.contains("root"), "{one_shadow_line}");
        assert_eq!(problem(&format!("{ED25519}\n{RSA}\n")), "it has 2 lines");
        assert_eq!(problem(""), "it is empty");
        assert_eq!(problem(" \n"), "it is empty");
        assert_eq!(
            problem(&format!("command=\"sh\",no-pty {ED25519}")),
            "it has options before the key type"
        );
        assert_eq!(
            problem(&format!("restrict {ED25519}")),
            "it has options before the key type"
        );
        assert_eq!(
            problem("ssh-ed25519 not*base64 postgres@db2"),
            "its key data is not base64"
        );
        assert_eq!(
            problem("ssh-ed25519"),
            "it has no key data after the key type"
        );
        // Base64 of something that is no SSH key.
        assert_eq!(
            problem("ssh-ed25519 cm9vdDp4OjA6MDpyb290Oi9yb290Oi9iaW4vYmFzaAo="),
            "its key data is not an SSH public key"
        );
        let ed25519_data = ED25519.split(' ').nth(1).unwrap_or_default();
        assert_eq!(
            problem(&format!("ssh-rsa {ed25519_data} postgres@db2")),
            "its key data is not of the type the line names (ssh-rsa)"
        );
        assert_eq!(
            problem(&format!("{ED25519} \u{1b}[2Jcleared")),
            "its comment holds control characters"
        );
        assert_eq!(
            problem(&format!("{ED25519}\r\n")),
            "its comment holds control characters"
        );
        assert_eq!(
            problem("ssh-dss AAAAB3NzaC1kc3M="),
            problem("x-unknown AAAA")
        );
    }

    #[test]
    fn a_refused_key_names_its_host_and_file() {
        let refused = authorized_line_from(
            "h2",
            "10.0.0.12",
            "/var/lib/postgresql/.ssh/id_ed25519.pub",
            b"root:x:0:0::/root:/bin/bash\nbin:x:1:1::/:/sbin/nologin\nsecret line\n",
        );
        assert_eq!(
            refused,
            Err("the public key read from `h2:/var/lib/postgresql/.ssh/id_ed25519.pub` is not one public key line: it has 3 lines".to_string())
        );
        let binary = authorized_line_from("h2", "10.0.0.12", "/k.pub", &[0xff, 0xfe, b'\n']);
        assert_eq!(
            binary,
            Err("the public key read from `h2:/k.pub` is not one public key line: it is not UTF-8 text".to_string())
        );
    }

    #[test]
    fn an_authorized_key_is_restricted_and_bound_to_its_members_ip_address() {
        let key = public_key(ED25519).unwrap_or_else(|problem| panic!("{problem}"));
        let data = &key.blob;
        assert_eq!(
            authorized_line("10.0.0.12", &key),
            Ok(format!(
                "from=\"10.0.0.12\",restrict ssh-ed25519 {data} postgres@hed25519"
            ))
        );
        // Written as sshd writes the client's address, which is what it compares.
        assert_eq!(
            authorized_line("fd00:0:0::0:12", &key),
            Ok(format!(
                "from=\"fd00::12\",restrict ssh-ed25519 {data} postgres@hed25519"
            ))
        );
        // sshd matches a name only with UseDNS: restrict alone, and the plan says why.
        assert_eq!(
            authorized_line("db2.example.org", &key),
            Ok(format!("restrict ssh-ed25519 {data} postgres@hed25519"))
        );
        assert!(unbound_reason("db2", "db2.example.org").is_some());
        assert_eq!(unbound_reason("db2", "10.0.0.12"), None);
        for bad in ["10.0.0.1\",x", "a,b"] {
            assert!(authorized_line(bad, &key).is_err(), "{bad}");
        }
    }

    #[test]
    fn collected_keys_are_checked_before_they_are_written() {
        let collect = CollectAuthorizedKeys {
            path: "/var/lib/postgresql/.ssh/authorized_keys".into(),
            existing: "ssh-ed25519 AAAA own-line-kept\n".into(),
            known: Vec::new(),
            collect: vec![KeyToCollect {
                host: "h2".into(),
                address: "10.0.0.12".into(),
                public_path: "/var/lib/postgresql/.ssh/id_ed25519.pub".into(),
            }],
            owner: "postgres".into(),
            group: "postgres".into(),
            server: HostSettings::example(),
        };
        let refused = collect.with_keys(&["root:x:0:0::/root:/bin/bash\n".to_string()]);
        let Err(refused) = refused else {
            panic!("a line of /etc/passwd was taken as a key");
        };
        assert!(refused.starts_with("the public key read from `h2:/var/lib/postgresql/.ssh/id_ed25519.pub` is not one public key line: its key type"), "{refused}");
        assert!(!refused.contains("root"), "{refused}");
        let written = collect
            .with_keys(&[format!("{ED25519}\n")])
            .unwrap_or_else(|problem| panic!("{problem}"));
        let content = written.content.expose();
        assert!(
            content.starts_with("ssh-ed25519 AAAA own-line-kept\n"),
            "{content}"
        );
        assert!(
            content.contains(&format!("\nfrom=\"10.0.0.12\",restrict {ED25519}\n")),
            "{content}"
        );
        assert!(collect.with_keys(&[]).is_err());
    }

    #[test]
    fn the_members_keys_are_authorized_restricted_to_their_addresses() {
        let fixture = Fixture::archive_host()
            .public_key("db1", RSA)
            .public_key("db2", EXAMPLE_PUBLIC_KEY)
            .public_key("db3", &format!("{ECDSA_256}\n"));
        insta::assert_snapshot!(check(&fixture, "db4", "ssh_authorized_keys"));
    }

    #[test]
    fn a_member_named_by_host_name_is_authorized_without_from_and_the_plan_says_so() {
        let inventory = crate::plan::check::THREE_HOSTS
            .replace("pg_version: 15", "pg_version: 15\n    pg_ssh_trust: true")
            .replace(
                "db2: { ansible_host: 10.0.0.12 }",
                "db2: { ansible_host: db2.example.org }",
            );
        let fixture = Fixture::converged_with(&inventory)
            .public_key("db2", EXAMPLE_PUBLIC_KEY)
            .public_key("db3", ED25519);
        let text = check(&fixture, "db1", "ssh_authorized_keys");
        assert!(
            text.contains(&format!("+restrict {EXAMPLE_PUBLIC_KEY}\n")),
            "{text}"
        );
        assert!(
            text.contains(&format!("+from=\"10.0.0.13\",restrict {ED25519}\n")),
            "{text}"
        );
        assert!(
            text.contains("the key of db2 is authorized without `from=`: its address `db2.example.org` is a host name, which sshd matches only with `UseDNS yes`"),
            "{text}"
        );
    }

    #[test]
    fn a_member_whose_public_key_file_is_not_a_key_blocks_the_key_step() {
        let fixture = Fixture::archive_host()
            .public_key("db2", EXAMPLE_PUBLIC_KEY)
            .public_key(
                "db3",
                "root:$6$salt$hash:19000:0:99999:7:::\nbin:*:19000::::::\n",
            );
        let text = check(&fixture, "db1", "ssh_authorized_keys");
        assert!(
            text.contains("the public key read from `db3:/var/lib/postgresql/.ssh/id_ed25519.pub` is not one public key line: it has 2 lines"),
            "{text}"
        );
        assert!(!text.contains("$6$"), "{text}");
        let own = check(&fixture, "db3", "postgres_ssh_key");
        assert!(own.contains("it has 2 lines: move the key pair (/var/lib/postgresql/.ssh/id_ed25519 and /var/lib/postgresql/.ssh/id_ed25519.pub) aside"), "{own}");
        assert!(!own.contains("$6$"), "{own}");
    }

    #[test]
    fn a_member_without_a_key_pair_gets_one() {
        insta::assert_snapshot!(check(&Fixture::archive_host(), "db1", "postgres_ssh_key"));
    }

    #[test]
    fn keys_made_in_this_run_are_collected_when_it_runs() {
        insta::assert_snapshot!(check(
            &Fixture::archive_host(),
            "db1",
            "ssh_authorized_keys"
        ));
    }

    #[test]
    fn known_hosts_get_every_other_hosts_key() {
        insta::assert_snapshot!(check(&Fixture::archive_host(), "db1", "ssh_known_hosts"));
    }

    #[test]
    fn an_unreachable_member_leaves_the_key_files_alone() {
        let fixture = Fixture::archive_host().unreachable("db3");
        insta::assert_snapshot!(check(&fixture, "db1", "ssh_authorized_keys"));
    }
}
