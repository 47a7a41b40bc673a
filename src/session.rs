//! How every command starts: the inventory, the playbook and the templates read
//! and checked together into the desired state; the printer, which redacts their
//! secrets; and the facts of the hosts, gathered with the progress, the lock
//! holders' news and the locks other runs hold told through that printer.

use crate::desired::DesiredState;
use crate::diagnostic::Diagnostics;
use crate::gather::{self, Gathered};
use crate::inventory::{Input, Inventory};
use crate::playbook::Playbook;
use crate::printer::Printer;
use crate::render::Renderer;
use crate::run_lock::LockError;
use crate::secret::Redactor;
use crate::transport::SshOptions;
use std::path::Path;

/// Everything read from the user's files, checked, before any host is contacted.
pub struct Loaded {
    pub inventory: Inventory,
    pub playbook: Playbook,
    pub desired: DesiredState,
}

pub fn load(
    inventory: &Input,
    playbook: Option<&Path>,
    templates: Option<&Path>,
) -> Result<Loaded, Diagnostics> {
    let inventory_result = Inventory::load_input(inventory);
    let playbook_result = Playbook::load(playbook);
    // Report the problems of both files at once.
    let (inventory, playbook) = match (inventory_result, playbook_result) {
        (Ok(inventory), Ok(playbook)) => (inventory, playbook),
        (inventory, playbook) => {
            let mut problems = Vec::new();
            if let Err(Diagnostics(mut list)) = inventory {
                problems.append(&mut list);
            }
            if let Err(Diagnostics(mut list)) = playbook {
                problems.append(&mut list);
            }
            return Err(Diagnostics(problems));
        }
    };
    let renderer = Renderer::new(templates);
    let desired = DesiredState::build(&inventory, &playbook, &renderer)?;
    Ok(Loaded {
        inventory,
        playbook,
        desired,
    })
}

/// A command's files, loaded, and the printer everything it says goes through.
pub struct Session {
    pub loaded: Loaded,
    pub printer: Printer,
}

impl Session {
    /// Loads the files, makes the printer (`printer_for` is given the redactor of
    /// their secrets) and prints the inventory's warnings on stderr.
    pub fn start(
        inventory: &Input,
        playbook: Option<&Path>,
        templates: Option<&Path>,
        printer_for: impl FnOnce(Redactor) -> Printer,
    ) -> Result<Session, Diagnostics> {
        Ok(Session::new(
            load(inventory, playbook, templates)?,
            printer_for,
        ))
    }

    /// The session of files already loaded; prints the inventory's warnings.
    pub fn new(loaded: Loaded, printer_for: impl FnOnce(Redactor) -> Printer) -> Session {
        let session = Session::quiet(loaded, printer_for);
        session.printer.warnings(&session.loaded.inventory.warnings);
        session
    }

    /// The session of files already loaded, printing no warning (`check`, whose
    /// output a monitoring system reads, says only what it judges).
    pub fn quiet(loaded: Loaded, printer_for: impl FnOnce(Redactor) -> Printer) -> Session {
        let printer = printer_for(Redactor::new(loaded.desired.secrets.clone()));
        Session { loaded, printer }
    }

    /// The desired state the files describe.
    pub fn desired(&self) -> &DesiredState {
        &self.loaded.desired
    }

    /// Connects to `hosts` and reads their facts, taking their run locks when
    /// `ssh` asks for them ([`gather::gather_telling`]). The printer shows the
    /// progress and what the locks' holders say; when no lock is taken, it notes
    /// each host another run holds.
    pub async fn gather(&self, hosts: &[String], ssh: &SshOptions) -> Result<Gathered, LockError> {
        let printer = &self.printer;
        let gathered = gather::gather_telling(
            self.desired(),
            hosts,
            ssh,
            &|done, total| printer.gathering(done, total),
            &|said| printer.err(said),
        )
        .await?;
        if ssh.run_lock.is_none() {
            printer.locks_held(&gathered.facts);
        }
        Ok(gathered)
    }

    /// Gathering for a command that changes nothing (`status`, `check`): no lock
    /// is taken, whatever `ssh` says, so nothing refuses.
    pub async fn gather_reading(&self, hosts: &[String], ssh: &SshOptions) -> Gathered {
        let printer = &self.printer;
        let gathered = gather::gather_reading(self.desired(), hosts, ssh, &|done, total| {
            printer.gathering(done, total)
        })
        .await;
        printer.locks_held(&gathered.facts);
        gathered
    }
}
