//! Reads Ansible inventories as Ansible itself reads them, every value with the
//! file, line and column it is written at.
//!
//! An inventory is one or more sources (`-i`): YAML, INI, TOML or the JSON of
//! `ansible-inventory --list` files, directories of them, host lists
//! (`db1,db2,`) and executable inventory scripts, with the `group_vars/` and
//! `host_vars/` beside each. The reader finds and reads them as Ansible does
//! ([`files`]), decrypts Ansible Vault values and files ([`vault`]), reads the
//! groups, hosts and variables of every document ([`layout`]), merges each
//! host's variables in Ansible's precedence and renders its templates as
//! Ansible 2.19 does, with Ansible's common filters, `env()` and
//! `lookup('env', ...)` and the magic variables `inventory_hostname`,
//! `group_names`, `groups` and `hostvars` ([`variables`]). Ansible's host
//! patterns (`--limit`) select hosts from the group tree ([`pattern`]).
//!
//! Every problem is collected, with its place, before any is reported
//! ([`Diagnostics`]). Reading does no IO but the reading of the sources, and
//! the running of an inventory script among them.
//!
//! [`Inventory::read`] does it all in one call:
//!
//! ```
//! use ansible_inventory_reader::{Inventory, ReadOptions};
//!
//! let directory = tempfile::tempdir()?;
//! let hosts = directory.path().join("hosts.ini");
//! std::fs::write(&hosts, "[web]\nweb[1:2] http_port=8080\n\n[web:vars]\nurl=\"http://{{ inventory_hostname }}:{{ http_port }}\"\n")?;
//!
//! let inventory = Inventory::read(&[hosts], &ReadOptions::new("my-tool"))?;
//! assert_eq!(inventory.groups["web"].hosts, ["web1", "web2"]);
//! let url = &inventory.hosts["web2"].vars["url"];
//! assert_eq!(url.value, "http://web2:8080");
//! assert_eq!(url.location.to_string(), format!("{}:5:5", directory.path().join("hosts.ini").display()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! An application that reads some variables itself (and must know when one of
//! them cannot render), decides things between merging and rendering (a role
//! from a group, a default computed from the hosts), or checks values where
//! they are written, uses the stages one by one: [`files::read`],
//! [`vault::decrypt_all`], [`layout::read`], [`variables::Variables`].

#![warn(missing_docs)]

pub mod diagnostic;
pub mod files;
mod filters;
pub mod formats;
mod host_range;
mod ini;
mod inventory;
pub mod layout;
mod merge;
pub mod pattern;
mod python_literal;
pub mod report;
pub mod resolve;
mod script;
mod sensitive;
pub mod suggest;
mod toml;
pub mod variables;
pub mod vault;
pub mod yaml;

pub use diagnostic::{Diagnostic, Diagnostics, Location};
pub use inventory::{Host, Inventory, ReadOptions, Variable};
pub use sensitive::{REDACTED, Sensitive};

/// The example of `README.md`, run as a test.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
