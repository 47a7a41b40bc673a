//! pgconverge: a declarative reconciler for PostgreSQL replication clusters.
//!
//! The pipeline, and the module for each stage, is described in `ARCHITECTURE.md`.

pub mod actions;
pub mod address;
pub mod apply;
pub mod archive;
pub mod connections;
pub mod conninfo;
pub mod dag;
pub mod desired;
pub mod diagnostic;
pub mod execute;
pub mod facts;
pub mod failover;
pub mod gate;
pub mod gather;
pub mod graph_dot;
pub mod health;
pub mod human;
pub mod inventory;
pub mod listing;
pub mod live_status;
pub mod pgconf;
pub mod plan;
pub mod playbook;
pub mod printer;
pub mod render;
pub mod render_out;
pub mod replace_file;
pub mod run_lock;
pub mod scram;
pub mod script;
pub mod secret;
pub mod session;
pub mod shell;
pub mod status;
pub mod transport;
pub mod upgrade;
pub mod versions;
