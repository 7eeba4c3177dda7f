//! Operations: doctors, the configuration reference, retention, schema versions, the Debian
//! packages, installs and upgrades, and the systemd units (in a real systemd container).

mod config_reference;
mod docs;
mod doctor;
mod installed;
mod packages;
mod retention;
mod schema_version;
mod systemd;
mod systemd_boot;
mod upgrade;
mod upgrade_conversation_groups;
mod upgrade_rolling;
mod upgrade_takeover;
