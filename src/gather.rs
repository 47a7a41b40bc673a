//! Gathering: connect to every host in parallel and run the facts script once on
//! each, keeping the connections open for the steps that follow.

use crate::desired::{DesiredHost, DesiredState};
use crate::facts;
use crate::facts::GatheredFacts;
use crate::inventory::login::BecomeMethod;
use crate::transport::{Connection, Escalation, EscalationMethod, SshOptions, Target};
use indexmap::IndexMap;
use std::sync::Arc;
use tokio::task::JoinSet;

pub struct Gathered {
    pub facts: GatheredFacts,
    pub connections: IndexMap<String, Arc<Connection>>,
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

    /// Ends every connection, all at once: each waits for its master to go.
    pub async fn close(self) {
        let mut closing = JoinSet::new();
        for (_, connection) in self.connections {
            if let Ok(connection) = Arc::try_unwrap(connection) {
                closing.spawn(connection.close());
            }
        }
        while closing.join_next().await.is_some() {}
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

/// Connects to every host in parallel and reads its facts, telling `answered`
/// how many hosts have answered (or failed) so far, of how many.
pub async fn gather(
    desired: &DesiredState,
    hosts: &[String],
    options: &SshOptions,
    answered: &(dyn Fn(usize, usize) + Sync),
) -> Gathered {
    let mut tasks = JoinSet::new();
    for name in hosts {
        let Some(host) = desired
            .hosts
            .get(name)
            .or_else(|| desired.outside.get(name))
        else {
            continue;
        };
        let host = host.clone();
        let options = options.clone();
        tasks.spawn(async move {
            let result = gather_host(&host, &options).await;
            (host.name.clone(), result)
        });
    }
    let mut results: IndexMap<String, Result<(facts::HostFacts, Connection), String>> =
        IndexMap::new();
    let total = tasks.len();
    answered(0, total);
    while let Some(joined) = tasks.join_next().await {
        if let Ok((name, result)) = joined {
            results.insert(name, result);
        }
        answered(total - tasks.len(), total);
    }
    let mut gathered = Gathered {
        facts: IndexMap::new(),
        connections: IndexMap::new(),
    };
    for name in hosts {
        match results.shift_remove(name) {
            Some(Ok((host_facts, connection))) => {
                gathered.facts.insert(name.clone(), Ok(host_facts));
                gathered
                    .connections
                    .insert(name.clone(), Arc::new(connection));
            }
            Some(Err(error)) => {
                gathered.facts.insert(name.clone(), Err(error));
            }
            None => {
                gathered.facts.insert(
                    name.clone(),
                    Err("gathering facts stopped unexpectedly".to_string()),
                );
            }
        }
    }
    gathered
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

async fn gather_host(
    host: &DesiredHost,
    options: &SshOptions,
) -> Result<(facts::HostFacts, Connection), String> {
    let target = target(host, options);
    let connection = Connection::open(&target, options)
        .await
        .map_err(|error| error.to_string())?;
    let request = host.facts_request();
    let output = connection
        .run(&facts::script::build(&request))
        .await
        .map_err(|error| error.to_string())?;
    if !output.success() {
        return Err(format!(
            "the facts script failed on {}: {}",
            host.name,
            output.stderr.trim()
        ));
    }
    // The script's status is its last base64's: a script stopped by an error
    // shows as output cut short, and what the shell said is in standard error.
    let host_facts = facts::parse::parse(&request, &output.stdout).map_err(|error| match output
        .stderr
        .trim()
    {
        "" => format!("cannot read the facts of {}: {error}", host.name),
        said => format!("cannot read the facts of {}: {error}: {said}", host.name),
    })?;
    Ok((host_facts, connection))
}
