//! Gathering: connect to every host in parallel and run the facts script once on
//! each, keeping the connections open for the steps that follow.

use crate::desired::{DesiredHost, DesiredState};
use crate::facts;
use crate::facts::GatheredFacts;
use crate::inventory::login::BecomeMethod;
use crate::run_lock::{self, HeldLocks, HolderRecord, LockError, LockTarget};
use crate::transport::{Connection, Escalation, EscalationMethod, SshOptions, Target};
use indexmap::IndexMap;
use std::sync::Arc;
use tokio::task::JoinSet;

pub struct Gathered {
    pub facts: GatheredFacts,
    pub connections: IndexMap<String, Arc<Connection>>,
    /// The run locks this run holds (none for a run that changes nothing).
    pub locks: HeldLocks,
}

impl Gathered {
    /// SSH round trips made so far, per host.
    pub fn round_trips(&self) -> IndexMap<String, usize> {
        self.connections
            .iter()
            .map(|(host, connection)| (host.clone(), connection.round_trips()))
            .collect()
    }

    /// How many connections reused a master a run before left (`--persist`).
    pub fn reused(&self) -> usize {
        self.connections
            .values()
            .filter(|connection| connection.reused())
            .count()
    }

    /// Lets go of the run locks, then ends every connection, all at once: each
    /// waits for its master to go.
    pub async fn close(self) {
        self.locks.release().await;
        close_all(self.connections.into_values()).await;
    }
}

/// The hosts to contact: those in scope and, for each, its upstream chain, whose
/// facts the plan of a standby needs.
pub fn hosts_to_contact(desired: &DesiredState, limit: &[String]) -> Vec<String> {
    let mut hosts: Vec<String> = Vec::new();
    for host in desired
        .hosts
        .values()
        .filter(|host| limit.is_empty() || limit.contains(&host.name))
    {
        let mut current = Some(host);
        while let Some(node) = current {
            if hosts.contains(&node.name) {
                break;
            }
            hosts.push(node.name.clone());
            current = node
                .upstream
                .as_ref()
                .and_then(|name| desired.hosts.get(name));
        }
    }
    desired
        .hosts
        .keys()
        .filter(|name| hosts.contains(name))
        .cloned()
        .collect()
}

/// Connects to every host in parallel, takes the run lock of each when the
/// options ask for it (before any fact is read: a plan is made only from hosts
/// no other run is changing), and reads its facts, telling `answered` how many
/// hosts have answered (or failed) so far, of how many. A host another run
/// holds stops it all: every lock taken is let go and every connection closed.
pub async fn gather(
    desired: &DesiredState,
    hosts: &[String],
    options: &SshOptions,
    answered: &(dyn Fn(usize, usize) + Sync),
) -> Result<Gathered, LockError> {
    gather_telling(desired, hosts, options, answered, &|_| {}).await
}

/// Gathering for a command that changes nothing (`status`, `check`): no lock
/// is taken, whatever the options say.
pub async fn gather_reading(
    desired: &DesiredState,
    hosts: &[String],
    options: &SshOptions,
    answered: &(dyn Fn(usize, usize) + Sync),
) -> Gathered {
    let options = SshOptions {
        run_lock: None,
        ..options.clone()
    };
    match gather(desired, hosts, &options, answered).await {
        Ok(gathered) => gathered,
        // Without a lock to take, nothing refuses.
        Err(error) => Gathered {
            facts: hosts
                .iter()
                .map(|host| (host.clone(), Err(error.to_string())))
                .collect(),
            connections: IndexMap::new(),
            locks: HeldLocks::default(),
        },
    }
}

/// The same, telling `said` what the locks' holders say (a wait, the sessions
/// of a killed run ended).
pub async fn gather_telling(
    desired: &DesiredState,
    hosts: &[String],
    options: &SshOptions,
    answered: &(dyn Fn(usize, usize) + Sync),
    said: &(dyn Fn(&str) + Sync),
) -> Result<Gathered, LockError> {
    let member = |name: &String| {
        desired
            .hosts
            .get(name)
            .or_else(|| desired.outside.get(name))
    };
    let mut tasks = JoinSet::new();
    for name in hosts {
        let Some(host) = member(name) else {
            continue;
        };
        let target = target(host, options);
        let options = options.clone();
        let name = name.clone();
        tasks.spawn(async move {
            let result = Connection::open(&target, &options)
                .await
                .map_err(|error| error.to_string());
            (name, result)
        });
    }
    let total = tasks.len();
    answered(0, total);
    let mut connected: IndexMap<String, Result<Arc<Connection>, String>> = IndexMap::new();
    while let Some(joined) = tasks.join_next().await {
        if let Ok((name, result)) = joined {
            connected.insert(name, result.map(Arc::new));
        }
    }
    let mut locks = HeldLocks::default();
    if let Some(run_lock) = &options.run_lock {
        // Every run takes the locks in the same order, by address, so that two
        // runs never each hold a host the other waits for.
        // A host an earlier part of this command holds is not taken again; its
        // new connection's scripts are recorded for that holder, as every
        // script of a holding run is.
        for name in &run_lock.held {
            if let Some(Ok(connection)) = connected.get(name) {
                connection.set_prologue(run_lock::REGISTER_SESSION.to_string());
            }
        }
        let mut targets: Vec<LockTarget> = hosts
            .iter()
            .filter(|name| !run_lock.held.contains(name))
            .filter_map(|name| {
                let host = member(name)?;
                let connection = connected.get(name)?.as_ref().ok()?;
                Some(LockTarget {
                    host: name.clone(),
                    connection: Arc::clone(connection),
                    os_user: host.settings.os_user.clone(),
                    order: (host.address.clone(), host.ssh_port.unwrap_or(22)),
                })
            })
            .collect();
        targets.sort_by(|a, b| a.order.cmp(&b.order));
        let record = HolderRecord::of_this_run(&run_lock.command);
        match run_lock::take(targets, &record, run_lock.wait, said).await {
            Ok(taken) => locks = taken,
            Err(error) => {
                close_all(connected.into_values().filter_map(Result::ok)).await;
                return Err(error);
            }
        }
    }
    let mut facts_tasks = JoinSet::new();
    for (name, connection) in &connected {
        let (Some(host), Ok(connection)) = (member(name), connection) else {
            continue;
        };
        let request = host.facts_request();
        let connection = Arc::clone(connection);
        let name = name.clone();
        facts_tasks.spawn(async move {
            let result = read_facts(&name, &request, &connection).await;
            (name, result)
        });
    }
    let mut results: IndexMap<String, Result<facts::HostFacts, String>> = IndexMap::new();
    answered(total - facts_tasks.len(), total);
    while let Some(joined) = facts_tasks.join_next().await {
        if let Ok((name, result)) = joined {
            results.insert(name, result);
        }
        answered(total - facts_tasks.len(), total);
    }
    let mut gathered = Gathered {
        facts: IndexMap::new(),
        connections: IndexMap::new(),
        locks,
    };
    for name in hosts {
        match (connected.shift_remove(name), results.shift_remove(name)) {
            (Some(Ok(connection)), Some(Ok(host_facts))) => {
                gathered.facts.insert(name.clone(), Ok(host_facts));
                gathered.connections.insert(name.clone(), connection);
            }
            (Some(Err(error)), _) | (_, Some(Err(error))) => {
                gathered.facts.insert(name.clone(), Err(error));
            }
            _ => {
                gathered.facts.insert(
                    name.clone(),
                    Err("gathering facts stopped unexpectedly".to_string()),
                );
            }
        }
    }
    Ok(gathered)
}

/// Ends connections all at once.
async fn close_all(connections: impl Iterator<Item = Arc<Connection>>) {
    let mut closing = JoinSet::new();
    for connection in connections {
        if let Ok(connection) = Arc::try_unwrap(connection) {
            closing.spawn(connection.close());
        }
    }
    while closing.join_next().await.is_some() {}
}

/// Where and how to log in to the host: its inventory login, and `-b` where the
/// inventory does not say whether to become root.
pub fn target(host: &DesiredHost, options: &SshOptions) -> Target {
    let login = &host.login;
    let escalation = match &login.escalation {
        Some(escalation) => Some(escalation.clone()),
        None if options.escalate && !login.become_set => {
            Some(crate::inventory::login::Become::root_with_sudo())
        }
        None => None,
    };
    Target {
        name: host.name.clone(),
        address: host.address.clone(),
        port: host.ssh_port,
        user: host.ssh_user.clone(),
        identity_file: login.identity_file.clone(),
        local: login.local,
        ssh_args: login.ssh_args.clone(),
        escalation: escalation.map(|escalation| Escalation {
            method: match escalation.method {
                BecomeMethod::Sudo => EscalationMethod::Sudo,
                BecomeMethod::Su => EscalationMethod::Su,
            },
            user: escalation.user,
            password: escalation.password,
        }),
    }
}

async fn read_facts(
    name: &str,
    request: &facts::FactsRequest,
    connection: &Connection,
) -> Result<facts::HostFacts, String> {
    let output = connection
        .run(&facts::script::build(request))
        .await
        .map_err(|error| error.to_string())?;
    if !output.success() {
        return Err(format!(
            "the facts script failed on {name}: {}",
            output.stderr.trim()
        ));
    }
    // The script's status is its last base64's: a script stopped by an error
    // shows as output cut short, and what the shell said is in standard error.
    facts::parse::parse(request, &output.stdout).map_err(|error| match output.stderr.trim() {
        "" => format!("cannot read the facts of {name}: {error}"),
        said => format!("cannot read the facts of {name}: {error}: {said}"),
    })
}
