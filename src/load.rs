//! Loading what every command reads before it contacts a host: the inventory, the
//! playbook and the templates, checked together into the desired state; and the
//! output format the commands share.

use crate::desired::DesiredState;
use crate::diagnostic::Diagnostics;
use crate::inventory::{Input, Inventory};
use crate::playbook::Playbook;
use crate::render::Renderer;
use std::path::Path;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OutputFormat {
    /// The plan and results for people, on stdout.
    #[default]
    Human,
    /// The versioned JSON document on stdout; the human plan and progress on stderr.
    Json,
}

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
