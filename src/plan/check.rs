//! The planner's test fixtures (an inventory and the facts of fresh or converged
//! hosts, all fake: the planner is pure) and `check`, through which every action's
//! tests run: fixture in, the step's plan line, diff and scripts out; and
//! `assert_matches_schema`, which holds a versioned JSON document to its schema
//! in `docs/schemas/`.

use super::build::{PlanOptions, plan};
use crate::actions::DesiredStep;
use crate::actions::directory::Directory;
use crate::actions::file::{DesiredFile, File};
use crate::actions::pg_hba_conf::PgHbaConf;
use crate::actions::pgbouncer::{self, Target};
use crate::actions::postgresql_conf::PostgresqlConf;
use crate::desired::{DesiredHost, DesiredState};
use crate::facts::pgbouncer::{
    BouncerDatabase, BouncerSetting, Console, PgbouncerAuthFacts, PgbouncerFacts,
};
use crate::facts::{
    Archiver, DataDirectory, GatheredFacts, HostFacts, ObservedFile, ObservedRole, ObservedSetting,
    PathAttributes, ServerFacts, WalReceiver,
};
use crate::inventory::Inventory;
use crate::pgconf::hba;
use crate::playbook::Playbook;
use crate::render::Renderer;
use crate::secret::Sensitive;
use crate::versions::PgbouncerVersion;
use indexmap::IndexMap;
use std::path::Path;

pub const PASSWORD: &str = "correct horse battery staple";

pub const THREE_HOSTS: &str = r#"
all:
  vars:
    pg_version: 15
    replication_password: "{{ env('PG_REPLICATION_PASSWORD') }}"
  children:
    primary:
      hosts:
        db1: { ansible_host: 10.0.0.11 }
    standby:
      hosts:
        db2: { ansible_host: 10.0.0.12 }
        db3: { ansible_host: 10.0.0.13 }
"#;

pub const PRIMARY_ID: &str = "7300000000000000001";

/// The PgBouncer auth role's password of [`pgbouncer_inventory`]: a `"` and
/// spaces, which its auth file quotes.
pub const BOUNCER_PASSWORD: &str = "bouncer \"pass\" word";

/// The PgBouncer of Debian 12, which the fixtures' PgBouncer hosts have.
pub const BOUNCER_VERSION: PgbouncerVersion = PgbouncerVersion {
    major: 1,
    minor: 18,
};

/// Three hosts with PgBouncer on db3, a standby, and on pgb1, a host of its own.
pub fn pgbouncer_inventory() -> String {
    THREE_HOSTS
        .replace(
            "  children:\n",
            "    pgbouncer_auth_password: 'bouncer \"pass\" word'\n  children:\n",
        )
        .replace(
            "        db3: { ansible_host: 10.0.0.13 }\n",
            "        db3: { ansible_host: 10.0.0.13 }\n    pgbouncer:\n      hosts:\n        db3: {}\n        pgb1: { ansible_host: 10.0.0.30 }\n",
        )
}

/// `pgbouncer.ini` as Debian's package leaves it (its comments left out).
pub const DEBIAN_PGBOUNCER_INI: &str = "[databases]\n\n[pgbouncer]\nlogfile = /var/log/postgresql/pgbouncer.log\npidfile = /var/run/postgresql/pgbouncer.pid\nlisten_addr = localhost\nlisten_port = 6432\nunix_socket_dir = /var/run/postgresql\nauth_type = md5\nauth_file = /etc/pgbouncer/userlist.txt\n";

/// The settings PgBouncer's `SHOW CONFIG` says a reload cannot change.
const BOUNCER_RESTART_SETTINGS: [&str; 4] =
    ["listen_addr", "listen_port", "unix_socket_dir", "pidfile"];

/// What a running PgBouncer's console says when it runs with `ini` (its
/// `[pgbouncer]` settings, over PgBouncer's defaults) and sends `postgres` to
/// `target`.
pub fn bouncer_console(ini: &str, target: Option<&Target>) -> Console {
    let mut settings: IndexMap<String, BouncerSetting> = [
        ("listen_addr", ""),
        ("listen_port", "6432"),
        ("unix_socket_dir", "/tmp"),
        ("pidfile", ""),
        ("pool_mode", "session"),
        ("auth_type", "md5"),
        ("auth_file", ""),
        ("auth_user", ""),
        ("auth_query", "SELECT rolname, CASE WHEN rolvaliduntil < now() THEN NULL ELSE rolpassword END FROM pg_authid WHERE rolname=$1 AND rolcanlogin"),
        ("server_fast_close", "0"),
        ("max_client_conn", "100"),
    ]
    .iter()
    .map(|(name, value)| {
        (
            name.to_string(),
            BouncerSetting {
                value: value.to_string(),
                changeable: !BOUNCER_RESTART_SETTINGS.contains(name),
            },
        )
    })
    .collect();
    for (section, name, value) in pgbouncer::ini_entries(ini) {
        if section == "pgbouncer" {
            settings.insert(
                name.clone(),
                BouncerSetting {
                    value,
                    changeable: !BOUNCER_RESTART_SETTINGS.contains(&name.as_str()),
                },
            );
        }
    }
    let mut databases = vec![BouncerDatabase {
        name: "pgbouncer".into(),
        host: String::new(),
        port: Some(6432),
        database: "pgbouncer".into(),
    }];
    if let Some(target) = target {
        databases.push(BouncerDatabase {
            name: "postgres".into(),
            host: target.host.clone(),
            port: Some(target.port),
            database: "postgres".into(),
        });
    }
    Console {
        databases,
        settings,
    }
}

/// Debian's PgBouncer 1.18 running with `ini` and sending `postgres` to `target`.
pub fn bouncer_facts(ini: &str, target: Option<&Target>) -> PgbouncerFacts {
    PgbouncerFacts {
        version_text: Some("PgBouncer 1.18.0".into()),
        psql: Some("/usr/lib/postgresql/15/bin/psql".into()),
        console: Some(Ok(bouncer_console(ini, target))),
    }
}

pub fn desired(inventory: &str) -> (DesiredState, Playbook) {
    desired_reaching(inventory, &[])
}

/// The same, with the hosts `outside` read although they are in no role group.
pub fn desired_reaching(inventory: &str, outside: &[String]) -> (DesiredState, Playbook) {
    let env = |name: &str| (name == "PG_REPLICATION_PASSWORD").then(|| PASSWORD.to_string());
    let inventory =
        Inventory::parse_reaching(Path::new("inventory.yaml"), inventory, &env, outside)
            .unwrap_or_else(|error| panic!("inventory: {error}"));
    let playbook = Playbook::load(None).unwrap_or_else(|error| panic!("playbook: {error}"));
    let desired = DesiredState::build(&inventory, &playbook, &Renderer::new(None))
        .unwrap_or_else(|error| panic!("desired state: {error}"));
    (desired, playbook)
}

/// Runs the planner and returns the plan as the user sees it, without colours.
pub fn plan_text(
    desired: &DesiredState,
    playbook: &Playbook,
    facts: GatheredFacts,
    options: &PlanOptions,
) -> String {
    let plan = plan(desired, playbook, &facts, options);
    anstream::adapter::strip_str(&crate::printer::plan_text(&plan)).to_string()
}

pub fn attributes(owner: &str, mode: u32) -> PathAttributes {
    PathAttributes {
        owner: owner.into(),
        group: owner.into(),
        mode,
        modified: 1_000,
    }
}

pub fn setting(context: &str, value: &str, unit: &str, vartype: &str) -> ObservedSetting {
    ObservedSetting::example(context, value, unit, vartype)
}

pub fn server(in_recovery: bool) -> ServerFacts {
    // What a fresh Debian PostgreSQL 15 cluster reports, in pg_settings' base units.
    let settings = [
        (
            "data_directory",
            "postmaster",
            "/var/lib/postgresql/15/main",
            "",
            "string",
        ),
        (
            "hba_file",
            "postmaster",
            "/etc/postgresql/15/main/pg_hba.conf",
            "",
            "string",
        ),
        (
            "ident_file",
            "postmaster",
            "/etc/postgresql/15/main/pg_ident.conf",
            "",
            "string",
        ),
        ("listen_addresses", "postmaster", "localhost", "", "string"),
        ("port", "postmaster", "5432", "", "integer"),
        ("max_connections", "postmaster", "100", "", "integer"),
        (
            "unix_socket_directories",
            "postmaster",
            "/var/run/postgresql",
            "",
            "string",
        ),
        ("password_encryption", "user", "scram-sha-256", "", "enum"),
        ("wal_level", "postmaster", "replica", "", "enum"),
        ("max_wal_senders", "postmaster", "10", "", "integer"),
        ("max_replication_slots", "postmaster", "10", "", "integer"),
        ("max_worker_processes", "postmaster", "8", "", "integer"),
        ("wal_log_hints", "postmaster", "off", "", "bool"),
        ("wal_keep_size", "sighup", "0", "MB", "integer"),
        (
            "max_prepared_transactions",
            "postmaster",
            "0",
            "",
            "integer",
        ),
        (
            "max_locks_per_transaction",
            "postmaster",
            "64",
            "",
            "integer",
        ),
        ("hot_standby", "postmaster", "on", "", "bool"),
        ("archive_mode", "postmaster", "off", "", "enum"),
        ("archive_command", "sighup", "", "", "string"),
        ("restore_command", "sighup", "", "", "string"),
        ("archive_cleanup_command", "sighup", "", "", "string"),
        (
            "recovery_target_timeline",
            "postmaster",
            "latest",
            "",
            "string",
        ),
        ("primary_conninfo", "sighup", "", "", "string"),
        ("work_mem", "user", "4096", "kB", "integer"),
        ("shared_buffers", "postmaster", "16384", "8kB", "integer"),
        ("ssl", "sighup", "on", "", "bool"),
    ];
    ServerFacts {
        in_recovery,
        configuration_loaded: 2_000,
        started: 1_500,
        position: None,
        replay_position: None,
        replay_paused: false,
        replay_lag_seconds: None,
        settings: settings
            .iter()
            .map(|(name, context, value, unit, vartype)| {
                (name.to_string(), setting(context, value, unit, vartype))
            })
            .collect(),
        replication_role: None,
        wal_receiver: None,
        replication_clients: Vec::new(),
        slots: Vec::new(),
        failover_slots: Vec::new(),
        user_databases: Vec::new(),
        md5_roles: Vec::new(),
        pgbouncer_role: None,
        archiver: Some(Archiver {
            archived_count: 5,
            last_archived_wal: "000000010000000000000005".into(),
            last_archived: Some(1_900),
            failed_count: 0,
            last_failed_wal: String::new(),
            last_failed: None,
        }),
    }
}

/// A public key line as `ssh-keygen -t ed25519` writes it.
pub const EXAMPLE_PUBLIC_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFJYQiUmpirszI82vqiOpEmIIuI2wBPfnKSdCK24EOZq postgres@db2";

/// A host as Debian's postgresql package leaves it: a running default cluster.
pub fn fresh_host(system_identifier: &str) -> HostFacts {
    let mut files = IndexMap::new();
    files.insert(
        "/etc/postgresql/15/main/postgresql.conf".to_string(),
        ObservedFile {
            attributes: attributes("postgres", 0o644),
            content: b"port = 5432\nmax_connections = 100\n".to_vec(),
        },
    );
    files.insert(
        "/etc/postgresql/15/main/pg_hba.conf".to_string(),
        ObservedFile {
            attributes: attributes("postgres", 0o640),
            content: b"local all postgres peer\n".to_vec(),
        },
    );
    HostFacts {
        os_user_home: Some("/var/lib/postgresql".into()),
        postgres_installed: true,
        memory_kb: Some(8 * 1024 * 1024),
        installed_libraries: Some(vec!["auto_explain".into(), "pg_stat_statements".into()]),
        files,
        directories: IndexMap::new(),
        readable: IndexMap::new(),
        // sshd, and the cluster on localhost:5432.
        listening: Some(
            ["0.0.0.0:22", "127.0.0.1:5432", "[::1]:5432"]
                .iter()
                .filter_map(|socket| socket.parse::<std::net::SocketAddr>().ok())
                .map(|socket| crate::facts::ListeningSocket {
                    address: socket.ip(),
                    port: socket.port(),
                })
                .collect(),
        ),
        data_directory: DataDirectory {
            pg_version: Some("15".into()),
            system_identifier: Some(system_identifier.into()),
            database_directories: 3,
            postmaster_pid: true,
            ..DataDirectory::default()
        },
        server: Some(server(false)),
        server_error: None,
        pgbackrest: None,
        ..HostFacts::default()
    }
}

/// A host that already is what the desired state says.
pub fn converged_host(host: &DesiredHost, upstream_address: Option<&str>) -> HostFacts {
    let mut facts = fresh_host(PRIMARY_ID);
    let stock = facts.files.clone();
    facts.files.clear();
    if host.pgbouncer {
        let wanted = host.steps.values().find_map(|step| match step {
            DesiredStep::PgbouncerIni(ini) => Some(ini.file.content.clone()),
            _ => None,
        });
        let target = host.steps.values().find_map(|step| match step {
            DesiredStep::PgbouncerDatabases(databases) => databases.target.clone(),
            _ => None,
        });
        facts.pgbouncer = Some(bouncer_facts(&wanted.unwrap_or_default(), target.as_ref()));
    }
    let mut insert = |file: &DesiredFile, content: String| {
        facts.files.insert(
            file.path.clone(),
            ObservedFile {
                attributes: PathAttributes {
                    group: file.group.clone(),
                    ..attributes(&file.owner, file.mode)
                },
                content: content.into_bytes(),
            },
        );
    };
    for step in host.steps.values() {
        match step {
            DesiredStep::PostgresqlConf(PostgresqlConf {
                file, base_path, ..
            }) => {
                let host_file = stock.values().next().map(|file| file.content.clone());
                let base = DesiredFile {
                    path: base_path.clone(),
                    ..file.clone()
                };
                insert(
                    &base,
                    String::from_utf8_lossy(&host_file.unwrap_or_default()).into_owned(),
                );
                insert(file, file.content.clone());
            }
            DesiredStep::PgHbaConf(PgHbaConf { file, .. }) => {
                let content = hba::with_block("", &file.content).unwrap_or_default();
                insert(file, content);
            }
            DesiredStep::File(File(file)) => insert(file, file.content.clone()),
            DesiredStep::PgbouncerIni(ini) => {
                let base = DesiredFile {
                    path: ini.base_path.clone(),
                    owner: "postgres".into(),
                    ..ini.file.clone()
                };
                insert(&base, DEBIAN_PGBOUNCER_INI.to_string());
                insert(&ini.file, ini.file.content.clone());
            }
            DesiredStep::PgbouncerDatabases(databases) => {
                if let Some(target) = &databases.target {
                    let file = DesiredFile {
                        path: databases.path.clone(),
                        content: String::new(),
                        owner: databases.owner.clone(),
                        group: databases.group.clone(),
                        mode: databases.mode,
                        sensitive: false,
                        check: None,
                    };
                    let content =
                        pgbouncer::databases_file(target, BOUNCER_VERSION).unwrap_or_default();
                    insert(&file, content);
                }
            }
            DesiredStep::Directory(Directory {
                path, owner, mode, ..
            }) => {
                facts
                    .directories
                    .insert(path.clone(), attributes(owner, *mode));
            }
            _ => {}
        }
    }
    if host.role == crate::inventory::Role::Pgbouncer {
        // A PgBouncer host of its own: no PostgreSQL of the cluster.
        facts.data_directory = DataDirectory::default();
        facts.server = None;
        facts.server_error = Some(
            "psql: error: connection to server on socket failed: No such file or directory".into(),
        );
        return facts;
    }
    let mut running = server(upstream_address.is_some());
    // The server runs with what the wanted postgresql.conf says.
    if let Some(DesiredStep::PostgresqlConf(PostgresqlConf { file, .. })) =
        host.steps.get("postgresql_conf")
    {
        for (name, written) in crate::pgconf::settings(&file.content) {
            if let Some(setting) = running.settings.get_mut(&name) {
                let kind = crate::pgconf::value::Kind {
                    vartype: &setting.vartype,
                    unit: &setting.unit,
                };
                setting.value = crate::pgconf::value::canonical(&written, kind).unwrap_or(written);
                setting.source_file = file.path.clone();
            }
        }
    }
    if let Some(address) = upstream_address {
        facts.data_directory.standby_signal = true;
        running.wal_receiver = Some(WalReceiver {
            status: "streaming".into(),
            sender_host: address.into(),
            sender_port: Some(5432),
            timeline: None,
        });
    } else {
        let verifier = crate::scram::new_verifier(PASSWORD)
            .map(|v| v.to_string())
            .unwrap_or_default();
        running.replication_role = Some(ObservedRole {
            can_login: true,
            replication: true,
            password_verifier: Sensitive::new(verifier),
            rewind_grants: true,
        });
        if host.steps.contains_key("pgbouncer_auth") {
            let verifier = crate::scram::new_verifier(BOUNCER_PASSWORD)
                .map(|v| v.to_string())
                .unwrap_or_default();
            running.pgbouncer_role = Some(crate::facts::ObservedBouncerRole {
                can_login: true,
                privileged: false,
                password_verifier: Sensitive::new(verifier),
            });
            facts.pgbouncer_auth = Some(PgbouncerAuthFacts {
                functions: Some(Ok(["postgres", "template1"]
                    .iter()
                    .map(|database| (database.to_string(), "ok".to_string()))
                    .collect())),
            });
        }
    }
    facts.server = Some(running);
    facts
}

pub fn converged_cluster(desired: &DesiredState) -> GatheredFacts {
    let mut facts: GatheredFacts = desired
        .hosts
        .values()
        .map(|host| {
            let upstream = host
                .upstream
                .as_ref()
                .and_then(|name| desired.hosts.get(name))
                .map(|up| up.settings.replication_host.as_str());
            (host.name.clone(), Ok(converged_host(host, upstream)))
        })
        .collect();
    // Each standby streams through its slot on its upstream.
    for host in desired.hosts.values() {
        let slot = host.steps.values().find_map(|step| match step {
            DesiredStep::ReplicationSlot(slot) => Some(slot.slot.clone()),
            _ => None,
        });
        if let (Some(slot), Some(upstream)) = (slot, host.upstream.as_ref())
            && let Some(Ok(upstream_facts)) = facts.get_mut(upstream)
            && let Some(server) = upstream_facts.server.as_mut()
        {
            server.slots.push(crate::facts::ReplicationSlot {
                name: slot,
                active: true,
                wal_status: "reserved".into(),
                retained_bytes: Some(0),
            });
        }
    }
    facts
}

/// An inventory and the facts of its hosts, for one action's test.
pub struct Fixture {
    pub desired: DesiredState,
    pub playbook: Playbook,
    pub facts: GatheredFacts,
    pub options: PlanOptions,
}

/// Three hosts and an archive host reached over SSH.
fn archive_host_inventory() -> String {
    THREE_HOSTS
        .replace(
            "  children:\n",
            "    wal_archive: { host: db4, path: /srv/wal_archive }\n  children:\n",
        )
        .replace(
            "        db3: { ansible_host: 10.0.0.13 }\n",
            "        db3: { ansible_host: 10.0.0.13 }\n    archive:\n      hosts:\n        db4: { ansible_host: 10.0.0.14 }\n",
        )
}

/// The three hosts and a pgBackRest repository host, arch1.
pub fn pgbackrest_inventory() -> String {
    THREE_HOSTS
        .replace(
            "  children:\n",
            "    wal_archive: { pgbackrest: { repo_host: arch1, stanza: main } }\n  children:\n",
        )
        .replace(
            "        db3: { ansible_host: 10.0.0.13 }\n",
            "        db3: { ansible_host: 10.0.0.13 }\n    archive:\n      hosts:\n        arch1: { ansible_host: 10.0.0.20 }\n",
        )
}

impl Fixture {
    /// Hosts of `inventory` that already are what it says.
    pub fn converged_with(inventory: &str) -> Fixture {
        let (desired, playbook) = desired(inventory);
        let facts = converged_cluster(&desired);
        Fixture {
            desired,
            playbook,
            facts,
            options: PlanOptions::default(),
        }
    }

    /// Three hosts as Debian's package leaves them, each with its own cluster.
    pub fn fresh() -> Fixture {
        Fixture::fresh_from(THREE_HOSTS)
    }

    /// The same with another PostgreSQL version in the inventory.
    pub fn fresh_version(version: &str) -> Fixture {
        Fixture::fresh_from(
            &THREE_HOSTS.replace("pg_version: 15", &format!("pg_version: {version}")),
        )
    }

    /// Fresh hosts and an archive host reached over SSH (keys to exchange).
    pub fn archive_host() -> Fixture {
        Fixture::fresh_from(&archive_host_inventory())
    }

    fn fresh_from(inventory: &str) -> Fixture {
        let (desired, playbook) = desired(inventory);
        let facts = desired
            .hosts
            .keys()
            .enumerate()
            .map(|(index, host)| {
                let id = format!("730000000000000000{}", index + 1);
                (host.clone(), Ok(fresh_host(&id)))
            })
            .collect();
        Fixture {
            desired,
            playbook,
            facts,
            options: PlanOptions::default(),
        }
    }

    /// Hosts as Debian's packages leave them, with PgBouncer on db3 and on
    /// pgb1, a host of its own ([`pgbouncer_inventory`]): each runs Debian's
    /// PgBouncer with the package's `pgbouncer.ini`.
    pub fn pgbouncer_fresh() -> Fixture {
        let fixture = Fixture::fresh_from(&pgbouncer_inventory());
        let stock = |facts: &mut HostFacts| {
            facts.files.insert(
                "/etc/pgbouncer/pgbouncer.ini".into(),
                ObservedFile {
                    attributes: attributes("postgres", 0o640),
                    content: DEBIAN_PGBOUNCER_INI.as_bytes().to_vec(),
                },
            );
            facts.pgbouncer = Some(bouncer_facts(DEBIAN_PGBOUNCER_INI, None));
        };
        fixture.edit("db3", stock).edit("pgb1", |facts| {
            stock(facts);
            facts.data_directory = DataDirectory::default();
            facts.server = None;
        })
    }

    /// The same hosts, converged: PgBouncer runs with pgconverge's files and
    /// sends clients to db1; db1 has the auth role and its function.
    pub fn pgbouncer_converged() -> Fixture {
        Fixture::converged_with(&pgbouncer_inventory())
    }

    /// Three hosts that already are what the inventory says.
    pub fn converged() -> Fixture {
        let (desired, playbook) = desired(THREE_HOSTS);
        let facts = converged_cluster(&desired);
        Fixture {
            desired,
            playbook,
            facts,
            options: PlanOptions::default(),
        }
    }

    /// db3 left the cluster: the inventory keeps it outside the role groups (in
    /// `decommissioned`), it still runs as the standby it was, db1 still has its
    /// slot, and the plan decommissions it (`--decommission db3`).
    pub fn removed_standby() -> Fixture {
        let inventory = THREE_HOSTS.replace(
            "        db3: { ansible_host: 10.0.0.13 }\n",
            "    decommissioned:\n      hosts:\n        db3: { ansible_host: 10.0.0.13 }\n",
        );
        let (desired, playbook) = desired_reaching(&inventory, &["db3".to_string()]);
        let mut facts = converged_cluster(&desired);
        if let Some(db3) = desired.outside.get("db3") {
            let mut db3_facts = converged_host(db3, Some("10.0.0.11"));
            db3_facts.files.insert(
                "/etc/postgresql/15/main/start.conf".into(),
                ObservedFile {
                    attributes: attributes("postgres", 0o644),
                    content: b"# Automatic startup configuration\n#   auto: automatically start the cluster\n\nauto\n".to_vec(),
                },
            );
            facts.insert("db3".into(), Ok(db3_facts));
        }
        Fixture {
            desired,
            playbook,
            facts,
            options: PlanOptions {
                decommission: vec!["db3".into()],
                ..PlanOptions::default()
            },
        }
        .stale_slot("db1", "pgconverge_db3")
    }

    /// Changes the facts of one host.
    pub fn edit(mut self, host: &str, change: impl FnOnce(&mut HostFacts)) -> Fixture {
        match self.facts.get_mut(host) {
            Some(Ok(facts)) => change(facts),
            _ => panic!("the fixture has no facts of {host}"),
        }
        self
    }

    /// `host` has a slot named `name` that no member streams through.
    pub fn stale_slot(self, host: &str, name: &str) -> Fixture {
        let name = name.to_string();
        self.edit(host, move |facts| {
            if let Some(server) = facts.server.as_mut() {
                server.slots.push(crate::facts::ReplicationSlot {
                    name: name.clone(),
                    active: false,
                    wal_status: "reserved".into(),
                    retained_bytes: Some(0),
                });
            }
        })
    }

    /// `host`'s PostgreSQL user has `text` in its public key file
    /// (`~/.ssh/id_ed25519.pub`), as the facts read it.
    pub fn public_key(self, host: &str, text: &str) -> Fixture {
        let text = text.to_string();
        self.edit(host, move |facts| {
            facts.files.insert(
                "/var/lib/postgresql/.ssh/id_ed25519.pub".into(),
                ObservedFile {
                    attributes: attributes("postgres", 0o644),
                    content: text.clone().into_bytes(),
                },
            );
        })
    }

    /// `host` has `text` as its `postgresql.auto.conf` (settings made with ALTER SYSTEM).
    pub fn altered_system(self, host: &str, text: &str) -> Fixture {
        let text = text.to_string();
        self.edit(host, move |facts| {
            facts.files.insert(
                "/var/lib/postgresql/15/main/postgresql.auto.conf".into(),
                ObservedFile {
                    attributes: attributes("postgres", 0o600),
                    content: text.clone().into_bytes(),
                },
            );
        })
    }

    /// The host ran as a primary of the same cluster (a former primary after a
    /// failover) and can be rewound.
    pub fn former_primary(self, host: &str) -> Fixture {
        self.edit(host, |facts| {
            facts.data_directory.standby_signal = false;
            facts.data_directory.wal_log_hints = true;
            facts.data_directory.timeline = Some(2);
            if let Some(server) = facts.server.as_mut() {
                server.wal_receiver = None;
                server.in_recovery = false;
            }
        })
    }

    /// The host ran as a primary and still does, beside the inventory's primary
    /// (a standby promoted by mistake): it left timeline 1 at `0/3000060` for
    /// timeline 2 and writes at `0/4000000`, while the primary stayed on timeline 1.
    pub fn promoted_beside_the_primary(self, host: &str) -> Fixture {
        let primary = self
            .desired
            .hosts
            .values()
            .find(|member| member.role == crate::inventory::Role::Primary)
            .map(|member| member.name.clone())
            .unwrap_or_default();
        self.former_primary(host)
            .edit(host, |facts| {
                facts.data_directory.history = crate::facts::timeline::TimelineHistory::parse(
                    "00000002.history",
                    "1\t0/3000060\tno recovery target specified\n",
                );
                if let Some(server) = facts.server.as_mut() {
                    server.position = crate::facts::Lsn::parse("0/4000000");
                }
            })
            .edit(&primary, |facts| {
                facts.data_directory.timeline = Some(1);
                if let Some(server) = facts.server.as_mut() {
                    server.position = crate::facts::Lsn::parse("0/5000000");
                }
            })
    }

    /// Plans with these command-line choices (`--rejoin`, `--limit`).
    pub fn options(mut self, options: PlanOptions) -> Fixture {
        self.options = options;
        self
    }

    /// The host could not be reached.
    pub fn unreachable(mut self, host: &str) -> Fixture {
        self.facts.insert(
            host.to_string(),
            Err("ssh: connect to host: Connection refused".into()),
        );
        self
    }
}

impl Fixture {
    pub fn plan(&self) -> super::Plan {
        plan(&self.desired, &self.playbook, &self.facts, &self.options)
    }
}

/// Plans the fixture and shows one step of one host: its plan line, its diff or
/// refusal, and each script it runs with its parameters. Every script must pass
/// shellcheck.
pub fn check(fixture: &Fixture, host: &str, step: &str) -> String {
    let plan = fixture.plan();
    let Some(planned) = plan
        .host(host)
        .and_then(|host| host.steps.iter().find(|planned| planned.id == step))
    else {
        panic!("{host} has no step {step} in the plan");
    };
    let mut text = format!(
        "{} {}: {}\n",
        planned.change.symbol(),
        planned.id,
        planned.summary
    );
    for warning in &planned.warnings {
        text.push_str(&format!("warning: {warning}\n"));
    }
    for detail in &planned.details {
        text.push_str(&format!("{detail}\n"));
    }
    if let Some(diff) = planned.diff.as_ref().filter(|_| planned.details.is_empty()) {
        text.push_str(diff);
        if !diff.ends_with('\n') {
            text.push('\n');
        }
    }
    if let Some(reason) = &planned.refused {
        text.push_str(&format!("refused: {reason}\n"));
    }
    if let Some(operation) = &planned.operation {
        match operation.scripts() {
            Ok(scripts) => {
                for host_script in scripts {
                    let on = host_script.other_host.as_deref().unwrap_or(host);
                    text.push_str(&format!("on {on}: {}", host_script.script.describe()));
                    let findings = crate::script::check::shellcheck(&host_script.script);
                    assert_eq!(findings, "", "{}", host_script.script.name());
                }
            }
            Err(reason) => text.push_str(&format!("no script: {reason}\n")),
        }
    }
    assert!(!text.contains(PASSWORD), "the password is in the output");
    assert!(
        !text.contains(BOUNCER_PASSWORD) && !text.contains("pass\"\" word"),
        "PgBouncer's auth password is in the output"
    );
    text
}

#[test]
fn every_operation_has_scripts_that_pass_shellcheck() {
    use crate::actions::Operation;
    use crate::script::check::shellcheck;
    let without_cluster = |facts: &mut HostFacts| {
        facts.data_directory = DataDirectory::default();
        facts.server = None;
        facts.os_user_home = None;
    };
    let fixtures = [
        Fixture::fresh(),
        Fixture::fresh().edit("db1", without_cluster),
        Fixture::converged().former_primary("db2"),
        Fixture::archive_host(),
        Fixture::converged_with(&pgbackrest_inventory()),
        Fixture::fresh_version("11"),
        Fixture::converged().altered_system("db2", "primary_conninfo = 'host=elsewhere'\n"),
        Fixture::converged().stale_slot("db1", "pgconverge_gone"),
        Fixture::pgbouncer_fresh(),
        Fixture::pgbouncer_converged().edit("pgb1", |facts| {
            if let Some(bouncer) = facts.pgbouncer.as_mut() {
                bouncer.console = Some(Err("connection refused".into()));
            }
        }),
    ];
    let mut seen = std::collections::BTreeSet::new();
    for fixture in &fixtures {
        for step in fixture.plan().hosts.iter().flat_map(|host| &host.steps) {
            let Some(operation) = &step.operation else {
                continue;
            };
            seen.insert(operation.name());
            let mut scripts: Vec<crate::script::Script> = Vec::new();
            // What the executor reads when the step runs (the keys made in this
            // run), then the operation that stands for this one given it.
            let reads = operation.reads_when_run();
            let outputs = vec![format!("{EXAMPLE_PUBLIC_KEY}\n"); reads.len()];
            scripts.extend(reads.into_iter().map(|read| read.script));
            let operation = if outputs.is_empty() {
                operation.clone()
            } else {
                operation
                    .given_reads(&outputs)
                    .unwrap_or_else(|error| panic!("{}: {error}", operation.name()))
            };
            let rendered = operation
                .scripts()
                .unwrap_or_else(|error| panic!("{}: {error}", operation.name()));
            scripts.extend(rendered.into_iter().map(|host_script| host_script.script));
            for script in scripts {
                assert_eq!(shellcheck(&script), "", "{} ({})", script.name(), step.id);
            }
        }
    }
    // What promote and switchover run, which no playbook step plans, on the
    // servers and on PgBouncer, and their undo.
    let server = crate::inventory::HostSettings::example();
    for operation in crate::actions::promotion::examples(&server)
        .into_iter()
        .chain(crate::actions::pgbouncer::examples(&server))
    {
        seen.insert(operation.name());
        for host_script in operation.scripts().unwrap_or_default() {
            assert_eq!(shellcheck(&host_script.script), "", "{}", operation.name());
        }
        for step in operation
            .undo()
            .map(|undo| undo.scripts)
            .unwrap_or_default()
        {
            let script = &step.script.script;
            assert_eq!(shellcheck(script), "", "undo of {}", operation.name());
        }
    }
    // What `pgconverge upgrade` runs, which no playbook step plans either: every
    // script, and every script of its undo.
    let new = crate::inventory::HostSettings {
        pg_version: crate::versions::PgVersion(1700),
        config_dir: "/etc/postgresql/17/main".into(),
        data_dir: "/var/lib/postgresql/17/main".into(),
        bin_dir: "/usr/lib/postgresql/17/bin".into(),
        ..server.clone()
    };
    for operation in crate::actions::upgrade::examples(&server, &new) {
        seen.insert(operation.name());
        for host_script in operation.scripts().unwrap_or_default() {
            let script = &host_script.script;
            assert_eq!(
                shellcheck(script),
                "",
                "{} ({})",
                operation.name(),
                script.name()
            );
        }
        for step in operation
            .undo()
            .map(|undo| undo.scripts)
            .unwrap_or_default()
        {
            let script = &step.script.script;
            assert_eq!(shellcheck(script), "", "undo of {}", operation.name());
        }
    }
    // What `pgconverge backup` runs, which no playbook step plans either.
    let backup = Operation::from(crate::actions::pgbackrest::TakeBackup {
        stanza: "main".into(),
        kind: crate::actions::pgbackrest::BackupKind::Full,
        server: server.clone(),
    });
    let verify = Operation::from(crate::actions::pgbackrest::VerifyBackup {
        stanza: "main".into(),
        label: "20261201-101010F".into(),
        table: Some("public.t".into()),
        server: server.clone(),
    });
    // The virtual IP's, which only an inventory with `cluster_vip` plans.
    let vip = crate::address::VirtualIp::parse("10.0.0.100/24", None).expect("a virtual IP");
    let hold = Operation::from(crate::actions::virtual_ip::HoldVirtualIp {
        vip: vip.clone(),
        host_address: "10.0.0.11".into(),
    });
    let release = Operation::from(crate::actions::virtual_ip::ReleaseVirtualIp { vip });
    for operation in [backup, verify, hold, release] {
        seen.insert(operation.name());
        for host_script in operation.scripts().unwrap_or_default() {
            assert_eq!(shellcheck(&host_script.script), "", "{}", operation.name());
        }
    }
    let missing: Vec<&&str> = Operation::NAMES
        .iter()
        .filter(|name| !seen.contains(**name))
        .collect();
    assert!(missing.is_empty(), "no fixture plans {missing:?}");
}

#[test]
fn the_facts_script_passes_shellcheck() {
    let archive = Fixture::archive_host();
    let bouncer = Fixture::pgbouncer_fresh();
    for host in archive
        .desired
        .hosts
        .values()
        .chain(bouncer.desired.hosts.values())
    {
        // The whole script, and the part it runs as the PostgreSQL OS user, which
        // the whole holds as one quoted string.
        let request = host.facts_request();
        for script in [
            crate::facts::script::outer(&request),
            crate::facts::script::inner(&request),
        ] {
            let findings = crate::script::check::shellcheck(&script);
            assert_eq!(findings, "", "facts of {}", host.name);
        }
        let sent = crate::facts::script::build(&request);
        let findings = crate::script::check::shellcheck_sent(&sent);
        assert_eq!(findings, "", "facts of {} as sent", host.name);
    }
}

/// Where a schema's references to the others resolve: `saved-plan.schema.json`
/// names `plan.schema.json` beside it.
const SCHEMA_BASE: &str = "file:///pgconverge/docs/schemas/";

/// Fails, naming each place, unless `document` is valid under
/// `docs/schemas/{name}.schema.json` (JSON Schema draft 2020-12).
pub fn assert_matches_schema(name: &str, document: &serde_json::Value) {
    let problems = schema_problems(name, document);
    assert!(
        problems.is_empty(),
        "the document does not match {name}.schema.json:\n{}\n{}",
        problems.join("\n"),
        serde_json::to_string_pretty(document).unwrap_or_default()
    );
}

/// Where `document` does not match `docs/schemas/{name}.schema.json`, one line
/// each; empty when it matches.
pub fn schema_problems(name: &str, document: &serde_json::Value) -> Vec<String> {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/schemas");
    let read = |file: &str| -> serde_json::Value {
        let path = directory.join(file);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
    };
    let mut schemas = Vec::new();
    for entry in std::fs::read_dir(&directory)
        .unwrap_or_else(|error| panic!("{}: {error}", directory.display()))
    {
        let file = entry
            .unwrap_or_else(|error| panic!("{error}"))
            .file_name()
            .to_string_lossy()
            .into_owned();
        if file.ends_with(".schema.json") {
            schemas.push((format!("{SCHEMA_BASE}{file}"), read(&file)));
        }
    }
    let registry = jsonschema::Registry::new()
        .extend(schemas)
        .and_then(jsonschema::RegistryBuilder::prepare)
        .unwrap_or_else(|error| panic!("the schemas do not load: {error}"));
    let file = format!("{name}.schema.json");
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .with_base_uri(format!("{SCHEMA_BASE}{file}"))
        .with_registry(&registry)
        .offline()
        .build(&read(&file))
        .unwrap_or_else(|error| panic!("{file}: {error}"));
    validator
        .iter_errors(document)
        .map(|error| format!("at `{}`: {error}", error.instance_path()))
        .collect()
}
