//! The tests that contact no host: the commands run offline, the golden files
//! of every version, the documentation against the program, the Ansible
//! comparison, the module layering, hostile inventory values, the quoting
//! properties and the JSON Schemas of the documents, in one test binary.

mod ansible_compat;
mod architecture;
mod cli;
mod commands;
mod docs;
mod golden;
mod hostile_values;
mod package;
mod quoting_properties;
mod schemas;
