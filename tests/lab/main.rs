//! The end-to-end tests: each scenario against the project's lab of real hosts
//! (network namespaces, a real sshd and PostgreSQL in each; `lab.sh` beside
//! this file), one module a scenario, in one test binary. The lab is one per
//! machine: every test takes its lock (`support::Lab::up`), so they run one
//! after the other whatever the harness's threads. They need root; set
//! `PGCONVERGE_SKIP_LAB_TESTS=1` to skip them where there is none.

mod support;

mod adopt_lab;
mod archive_host_lab;
mod archive_lab;
mod become_lab;
mod chaos_lab;
mod converge_lab;
mod failover_lab;
mod failover_slots_lab;
mod failures_lab;
mod inventory_lab;
mod links_lab;
mod live_changes_lab;
mod one_run_lab;
mod pgbackrest_lab;
mod pgbouncer_lab;
mod quoting_lab;
mod rollback_lab;
mod saved_plan_lab;
mod slots_lab;
mod upgrade_lab;
mod virtual_ip_lab;
